package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// vmArch is one machine the runner can boot: its kernel package, its QEMU
// and the userland its programs need.
type vmArch struct {
	name   string // as given to -arch: the GOARCH of the programs it runs
	goarch string
	// kernelPackage is the Debian metapackage whose dependency is the
	// kernel; a foreign architecture is spelled package:arch.
	kernelPackage string
	qemu          string // the qemu-system binary
	qemuPackage   string // the Debian package that has it
	// debArch is the Debian architecture of the userland ("" for the host's
	// own /, which the VM uses as it is).
	debArch string
	// userlandPackages are installed (unpacked) into the VM's own userland,
	// with their dependencies; busybox-static must be one of them.
	userlandPackages []string
	cpus, memMiB     int // defaults
	// kernelArgs are added to the kernel's command line.
	kernelArgs string
	// halt is what init runs to stop the VM.
	halt string
}

var arches = map[string]vmArch{
	"amd64": {
		name: "amd64", goarch: "amd64",
		kernelPackage: "linux-image-amd64",
		qemu:          "qemu-system-x86_64", qemuPackage: "qemu-system-x86",
		cpus: 2, memMiB: 3072,
		// The clock a router reads: its userland reads the time without a
		// system call (the vDSO, from the CPU's counter), and so does the
		// VM with the TSC. Under TCG the kernel would otherwise not trust
		// the TSC and fall back to the HPET, where every clock read is a
		// system call and an emulated device access (time.Now: 4.5 us
		// against 0.6 us), which the Go runtime's scheduler pays many
		// times on each wake-up and a C daemon hardly at all.
		kernelArgs: "tsc=reliable clocksource=tsc",
		halt:       "poweroff -f",
	},
	// 32-bit little-endian MIPS: Debian's kernel for QEMU's Malta board
	// (MIPS32, CONFIG_32BIT, multicast routing with multiple tables built
	// in; veth, bridge and 9p as modules). The board has no highmem in this
	// kernel, so 256 MiB is all it can use; the 4Kc is one core.
	"mipsle": {
		name: "mipsle", goarch: "mipsle",
		kernelPackage: "linux-image-4kc-malta:mipsel",
		qemu:          "qemu-system-mipsel", qemuPackage: "qemu-system-mips",
		debArch:          "mipsel",
		userlandPackages: []string{"busybox-static", "iproute2"},
		cpus:             1, memMiB: 256,
		// Malta's power-off is not wired in QEMU 7.2; a reboot with
		// -no-reboot ends QEMU.
		halt: "reboot -f",
	},
}

// lookupArch returns the architecture named by -arch.
func lookupArch(name string) (vmArch, error) {
	if a, ok := arches[name]; ok {
		return a, nil
	}
	names := make([]string, 0, len(arches))
	for n := range arches {
		names = append(names, n)
	}
	sort.Strings(names)
	return vmArch{}, fmt.Errorf("-arch %q: not one of %s", name, strings.Join(names, ", "))
}

// foreign tells whether the VM needs a userland of its own: its programs
// cannot run the host's binaries.
func (a vmArch) foreign() bool { return a.debArch != "" }

// qemuArgs is the machine: no network card (the tests build their own
// networks in namespaces), the host's root, the run directory and, for a
// foreign architecture, its userland over virtio-9p, a random number
// generator so that nothing waits for entropy at boot, and the serial
// console into a file read only when something goes wrong.
func (a vmArch) qemuArgs(o vmOptions, k kernel, initrd, run, console, userland string) []string {
	var args []string
	switch a.name {
	case "mipsle":
		args = []string{
			"-nodefaults", "-no-reboot", "-display", "none",
			"-machine", "malta", "-accel", "tcg",
		}
	default:
		args = []string{
			"-nodefaults", "-no-reboot", "-display", "none",
			"-machine", "pc", "-accel", "tcg,thread=multi", "-cpu", "max",
		}
	}
	args = append(args,
		"-smp", strconv.Itoa(o.cpus), "-m", strconv.Itoa(o.memMiB),
		"-kernel", k.vmlinuz, "-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 quiet loglevel=4 panic=-1 random.trust_cpu=on "+a.kernelArgs),
		"-serial", "file:"+console,
		"-fsdev", "local,id=hostroot,path=/,security_model="+a.securityModel()+",readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
		"-fsdev", "local,id=out,path="+run+",security_model=none",
		"-device", "virtio-9p-pci,fsdev=out,mount_tag=out",
	)
	if userland != "" {
		args = append(args,
			"-fsdev", "local,id=userland,path="+userland+",security_model="+a.securityModel()+",readonly=on,multidevs=remap",
			"-device", "virtio-9p-pci,fsdev=userland,mount_tag=userland")
	}
	return append(args, "-device", "virtio-rng-pci")
}

func (a vmArch) securityModel() string {
	if a.foreign() {
		return "none"
	}
	return "none"
}
