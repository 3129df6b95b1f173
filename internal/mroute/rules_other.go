//go:build !linux

package mroute

import "encoding/binary"

// AddRule fails: only Linux is supported. It validates r first, so a bad rule
// reads the same everywhere.
func AddRule(r Rule) error {
	if _, err := encodeRule(rtmNewRule, 0, r, binary.NativeEndian); err != nil {
		return err
	}
	return errUnsupported
}

// DelRule fails: only Linux is supported.
func DelRule(r Rule) error { return errUnsupported }

// Rules fails: only Linux is supported.
func Rules(family int, protocol uint8) ([]Rule, error) { return nil, errUnsupported }
