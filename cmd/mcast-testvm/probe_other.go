//go:build !linux

package main

import (
	"errors"
	"fmt"
)

func probe() error {
	return fmt.Errorf("multicast routing probe: %w", errors.ErrUnsupported)
}
