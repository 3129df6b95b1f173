//go:build !linux

package mroute

func (s *Socket) Drops() (uint64, error) { return 0, errUnsupported }
