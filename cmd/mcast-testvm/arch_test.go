package main

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestLookupArch(t *testing.T) {
	for _, name := range []string{"amd64", "mipsle"} {
		a, err := lookupArch(name)
		if err != nil || a.name != name || a.goarch != name {
			t.Errorf("lookupArch(%q) = %+v, %v", name, a, err)
		}
	}
	if _, err := lookupArch("mips"); err == nil || !strings.Contains(err.Error(), "amd64, mipsle") {
		t.Errorf("lookupArch(mips): %v, want an error naming the choices", err)
	}
}

// The x86-64 machine stays as it was; the MIPS one is the Malta board with
// one more 9p share for its userland.
func TestQemuArgs(t *testing.T) {
	k := kernel{vmlinuz: "/k/vmlinuz"}
	amd := arches["amd64"]
	o := vmOptions{cpus: 2, memMiB: 3072, arch: amd}
	got := strings.Join(amd.qemuArgs(o, k, "/r/initramfs.cpio", "/r", "/r/console.log", ""), " ")
	for _, want := range []string{
		"-machine pc -accel tcg,thread=multi -cpu max -smp 2 -m 3072",
		"-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
		"-device virtio-9p-pci,fsdev=out,mount_tag=out",
		"random.trust_cpu=on tsc=reliable clocksource=tsc -serial",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("amd64 args lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "userland") {
		t.Errorf("amd64 args share a userland:\n%s", got)
	}
	mips := arches["mipsle"]
	o = vmOptions{cpus: 1, memMiB: 256, arch: mips}
	got = strings.Join(mips.qemuArgs(o, k, "/r/initramfs.cpio", "/r", "/r/console.log", "/c/userland"), " ")
	for _, want := range []string{
		"-machine malta -accel tcg -smp 1 -m 256",
		"-fsdev local,id=userland,path=/c/userland,security_model=none,readonly=on,multidevs=remap -device virtio-9p-pci,fsdev=userland,mount_tag=userland",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("mipsle args lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "tsc") || !strings.Contains(got, "random.trust_cpu=on -serial") {
		t.Errorf("mipsle kernel command line not the plain one:\n%s", got)
	}
	if strings.Contains(got, "-cpu max") {
		t.Errorf("mipsle args ask for an x86 CPU:\n%s", got)
	}
}

func TestParseAptClosure(t *testing.T) {
	out := "iproute2:mipsel\n  Depends: libc6:mipsel\n  Depends: <debconf-2.0:mipsel>\n" +
		"<debconf-2.0:mipsel>\ndebconf\nlibc6:mipsel\n  Depends: libgcc-s1:mipsel\nlibc6\n" +
		"libgcc-s1:mipsel\nbusybox-static:mipsel\nlibc6:mipsel\n"
	want := []string{"busybox-static:mipsel", "iproute2:mipsel", "libc6:mipsel", "libgcc-s1:mipsel"}
	if got := parseAptClosure([]byte(out), "mipsel"); !reflect.DeepEqual(got, want) {
		t.Errorf("parseAptClosure = %q, want %q", got, want)
	}
}

// Packages that still ship /bin, /sbin and /lib end up under /usr with the
// top-level names as symlinks, as on the host, so that the userland's
// binaries shadow the host's whatever PATH says.
func TestMergeUsr(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"bin/ip", "bin/busybox", "usr/bin/ip", "lib/mipsel-linux-gnu/libc.so.6", "usr/lib/mipsel-linux-gnu/libz.so.1"} {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := mergeUsr(root); err != nil {
		t.Fatal(err)
	}
	for top, want := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib"} {
		if got, err := os.Readlink(filepath.Join(root, top)); err != nil || got != want {
			t.Errorf("/%s -> %q (%v), want %q", top, got, err, want)
		}
	}
	for f, want := range map[string]string{
		"usr/bin/busybox":                       "bin/busybox",
		"usr/bin/ip":                            "usr/bin/ip", // the one already under /usr is kept
		"usr/lib/mipsel-linux-gnu/libc.so.6":    "lib/mipsel-linux-gnu/libc.so.6",
		"usr/lib/mipsel-linux-gnu/libz.so.1":    "usr/lib/mipsel-linux-gnu/libz.so.1",
		"lib/mipsel-linux-gnu/libc.so.6":        "lib/mipsel-linux-gnu/libc.so.6", // through the symlink
		"bin/busybox":                           "bin/busybox",
		"usr/lib/mipsel-linux-gnu/../../bin/ip": "usr/bin/ip",
	} {
		if b, err := os.ReadFile(filepath.Join(root, f)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", f, b, err, want)
		}
	}
}

// The executables a MIPS VM copies into memory before the program runs:
// the userland's, the program, and those named by absolute path in the
// environment; nothing else.
func TestCopyUpList(t *testing.T) {
	dir := t.TempDir()
	ul := filepath.Join(dir, "userland")
	for f, mode := range map[string]os.FileMode{"usr/bin/busybox": 0o755, "usr/sbin/ip": 0o755, "usr/bin/README": 0o644} {
		p := filepath.Join(ul, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("busybox", filepath.Join(ul, "usr/bin/sh"))
	daemon := filepath.Join(dir, "mcast-proxy")
	os.WriteFile(daemon, nil, 0o755)
	data := filepath.Join(dir, "data")
	os.WriteFile(data, nil, 0o644)
	env := []string{"MCAST_PROXY_BIN=" + daemon, "DATA=" + data, "HOME=" + dir, "REL=bin/x", "PATH=/usr/bin:/bin"}
	got := copyUpList(ul, "/tmp/go-build1/b001/e2e.test", env)
	want := []string{"/usr/bin/busybox", "/usr/sbin/ip", "/tmp/go-build1/b001/e2e.test", daemon}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("copyUpList = %q, want %q", got, want)
	}
}

func TestCheckProgramArch(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host, ok := arches[runtime.GOARCH]
	if !ok {
		t.Skipf("no VM architecture for this host (%s)", runtime.GOARCH)
	}
	if err := checkProgramArch(self, host); err != nil {
		t.Errorf("the test binary, built for this host: %v", err)
	}
	other := arches["mipsle"]
	if runtime.GOARCH == "mipsle" {
		other = arches["amd64"]
	}
	if err := checkProgramArch(self, other); err == nil || !strings.Contains(err.Error(), "GOARCH="+other.goarch) {
		t.Errorf("a %s program for the %s VM: %v, want an error saying GOARCH=%s", runtime.GOARCH, other.name, err, other.goarch)
	}
	script := filepath.Join(t.TempDir(), "x.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if err := checkProgramArch(script, other); err != nil {
		t.Errorf("a script: %v", err)
	}
}

// A MIPS VM lays its userland over the host's root with overlayfs's
// attributes in user.*, copies the executables into memory and stops by
// rebooting.
func TestBuildInitramfsUserland(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("\x7fELF busybox"), 0o755)
	img := filepath.Join(dir, "initramfs.cpio")
	params := initParams{Out: "/cache/run-1", Userland: true, Halt: "reboot -f", CopyUp: []string{"/usr/bin/busybox", "/tmp/it's/x.test"}}
	if err := buildInitramfsWith(img, bb, nil, params); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	init := string(readCPIO(t, b)["init"].data)
	for _, want := range []string{
		"mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 userland /userland || exec reboot -f",
		"-o userxattr,lowerdir=/userland:/lower,",
		"touch -c /newroot'/usr/bin/busybox'",
		`touch -c /newroot'/tmp/it'\''s/x.test'`,
		"sync\nreboot -f\n",
	} {
		if !strings.Contains(init, want) {
			t.Errorf("init lacks %q:\n%s", want, init)
		}
	}
	if strings.Contains(init, "poweroff") {
		t.Errorf("init powers off:\n%s", init)
	}
}
