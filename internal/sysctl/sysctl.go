// Package sysctl reads the kernel's integer settings from /proc/sys, the
// one home for the daemon's rp_filter check and the upstream subscription's
// per-socket limits.
package sysctl

import (
	"os"
	"strconv"
	"strings"
)

// Int returns the integer setting name, a path below /proc/sys such as
// "net/ipv4/igmp_max_msf", in the network namespace of the calling thread;
// def if it cannot be read or is not an integer. A setting that is missing
// (another kernel, a stripped-down /proc) is no reason to fail: the callers
// use the kernel's default or skip a warning.
func Int(name string, def int) int {
	return read("/proc/sys/", name, def)
}

func read(root, name string, def int) int {
	b, err := os.ReadFile(root + name)
	if err != nil {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return def
	}
	return v
}
