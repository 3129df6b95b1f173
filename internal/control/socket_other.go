//go:build !linux

package control

import (
	"errors"
	"os"
)

func listenUnix(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func acceptUnix(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

func dial(path string) (*os.File, error) {
	return nil, &os.PathError{Op: "dial unix", Path: path, Err: errors.ErrUnsupported}
}

func closeWrite(*os.File) error { return errors.ErrUnsupported }
