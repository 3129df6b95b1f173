// Command mcast-testvm runs the kernel tests and the demo on any Linux
// machine, also one whose kernel was built without multicast routing
// (CONFIG_IP_MROUTE, CONFIG_IPV6_MROUTE): it boots a stock Debian kernel that
// has it in a QEMU virtual machine, under software emulation, and runs one
// program built on the host inside it.
//
//	mcast-testvm probe              exit 0 if this kernel routes multicast (IPv4 and IPv6)
//	mcast-testvm exec PROG [ARG...] run PROG in the VM; the exit status is PROG's
//	mcast-testvm kernel             fetch the kernel and say which one would boot
//
// exec is shaped for `go test -exec`: the program runs as root in the VM, in
// the same working directory and with the same environment, and sees the
// host's file system (read-only over 9p, with a writable layer in memory).
// Its output is streamed back as it is written. With -systemd, the VM boots
// the host's systemd as init and runs the program as a service of it.
//
// With -arch mipsle the VM is 32-bit little-endian MIPS instead: Debian's
// Malta kernel under qemu-system-mipsel, for programs cross-built with
// GOARCH=mipsle, with a small mipsel userland (busybox, iproute2) built from
// Debian's packages and laid over the host's root, so that paths are still
// the host's.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	opts := vmOptions{}
	flags := flag.NewFlagSet("mcast-testvm", flag.ExitOnError)
	flags.StringVar(&opts.dir, "dir", defaultDir(), "`directory` for the downloaded kernel and per-run files")
	flags.StringVar(&opts.kernel, "kernel", os.Getenv("KERNEL"), "boot this `vmlinuz` instead of Debian's (also $KERNEL)")
	flags.StringVar(&opts.modules, "modules", os.Getenv("KERNEL_MODULES"), "the kernel's modules `directory` (lib/modules/VERSION; also $KERNEL_MODULES)")
	archName := flags.String("arch", envOr("TESTVM_ARCH", "amd64"), "the VM's `architecture`: amd64 (the host's root as it is) or mipsle (32-bit MIPS Malta, with its own userland; also $TESTVM_ARCH)")
	flags.IntVar(&opts.cpus, "cpus", 0, "virtual CPUs (0: the architecture's default, 2 for amd64, 1 for mipsle)")
	flags.IntVar(&opts.memMiB, "mem", 0, "memory in `MiB` (0: the architecture's default, 3072 for amd64, 256 for mipsle)")
	flags.DurationVar(&opts.timeout, "timeout", 90*time.Minute, "stop the VM after this long")
	flags.BoolVar(&opts.systemd, "systemd", false, "boot the host's systemd as init and run the program as a service of it")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: mcast-testvm [flags] probe | kernel | exec PROG [ARG...]\n")
		flags.PrintDefaults()
	}
	flags.Parse(os.Args[1:])
	args := flags.Args()
	a, err := lookupArch(*archName)
	if err != nil {
		fail(err)
	}
	opts.arch = a
	if opts.cpus == 0 {
		opts.cpus = a.cpus
	}
	if opts.memMiB == 0 {
		opts.memMiB = a.memMiB
	}
	if len(args) == 0 {
		flags.Usage()
		os.Exit(2)
	}
	switch args[0] {
	case "probe":
		if err := probe(); err != nil {
			fmt.Fprintln(os.Stderr, "mcast-testvm: this kernel cannot route multicast here:", err)
			os.Exit(1)
		}
	case "kernel":
		k, err := findKernel(opts)
		if err != nil {
			fail(err)
		}
		fmt.Println(k)
	case "exec":
		if len(args) < 2 {
			flags.Usage()
			os.Exit(2)
		}
		code, err := execInVM(opts, args[1], args[2:])
		if err != nil {
			fail(err)
		}
		os.Exit(code)
	default:
		flags.Usage()
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mcast-testvm:", err)
	var exit *exitError
	if errors.As(err, &exit) {
		os.Exit(exit.code)
	}
	os.Exit(1)
}

// exitError carries the exit status the command should end with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// defaultDir is the per-user cache, so that the kernel is fetched once and
// kept across runs and checkouts.
func defaultDir() string {
	if d := os.Getenv("TESTVM_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "mcast-proxy", "testvm")
	}
	return filepath.Join(os.TempDir(), "mcast-proxy-testvm")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
