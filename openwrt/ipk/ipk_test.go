package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeELF is the smallest ELF header debug/elf accepts: a stand-in for
// the cross-built binary of each architecture.
func fakeELF(m elf.Machine, order binary.ByteOrder, class elf.Class) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(class), 1, 1, 0})
	if order == binary.BigEndian {
		b.Bytes()[5] = 2
	}
	b.Write(make([]byte, 8))
	w := func(v any) { binary.Write(&b, order, v) }
	w(uint16(elf.ET_EXEC))
	w(uint16(m))
	w(uint32(1))
	if class == elf.ELFCLASS64 {
		w(uint64(0)) // entry
		w(uint64(0)) // phoff
		w(uint64(0)) // shoff
		w(uint32(0)) // flags
		w(uint16(64))
		w(uint16(56))
		w(uint16(0))
		w(uint16(64))
		w(uint16(0))
		w(uint16(0))
	} else {
		w(uint32(0))
		w(uint32(0))
		w(uint32(0))
		w(uint32(0))
		w(uint16(52))
		w(uint16(32))
		w(uint16(0))
		w(uint16(40))
		w(uint16(0))
		w(uint16(0))
	}
	return b.Bytes()
}

func build(t *testing.T, arch string, bin []byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mcast-proxy")
	if err := os.WriteFile(p, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	pkg, err := Build(Options{Root: "../..", Bin: p, Arch: arch, Version: "0.1.0-1", MTime: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// TestPackage builds a package for every architecture and reads it back.
func TestPackage(t *testing.T) {
	for arch, m := range machines {
		t.Run(arch, func(t *testing.T) {
			bin := fakeELF(m.machine, m.order, m.class)
			pkg := build(t, arch, bin)
			info, err := Check(pkg)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"Package":      "mcast-proxy",
				"Version":      "0.1.0-1",
				"Depends":      "libc",
				"Architecture": arch,
				"Require-User": "mcast-proxy:mcast-proxy",
			}
			for k, v := range want {
				if info.Control[k] != v {
					t.Errorf("control %s: %q, want %q", k, info.Control[k], v)
				}
			}
			if !bytes.Equal(info.Contents["./usr/sbin/mcast-proxy"], bin) {
				t.Error("the binary in the package is not the one given")
			}
			cfg, err := os.ReadFile("../../files/mcast-proxy.config")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(info.Contents["./etc/config/mcast-proxy"], cfg) {
				t.Error("/etc/config/mcast-proxy is not files/mcast-proxy.config")
			}
			if !strings.Contains(info.Scripts["postinst"], "default_postinst $0 $@") ||
				!strings.Contains(info.Scripts["prerm"], "default_prerm $0 $@") {
				t.Errorf("maintainer scripts are not OpenWrt's:\n%s\n%s", info.Scripts["postinst"], info.Scripts["prerm"])
			}
			// Reproducible: the same inputs give the same bytes.
			if again := build(t, arch, bin); !bytes.Equal(again, pkg) {
				t.Error("two builds differ")
			}
		})
	}
}

// TestPackageWithTools reads a package with the system's tar, as a second
// opinion on the format: OpenWrt's opkg reads it as a gzipped tar too.
func TestPackageWithTools(t *testing.T) {
	tarTool, err := exec.LookPath("tar")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tar is not installed")
		}
		t.Skip("tar not installed")
	}
	m := machines["mips_24kc"]
	pkg := build(t, "mips_24kc", fakeELF(m.machine, m.order, m.class))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.ipk"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tarTool, "tzf", filepath.Join(dir, "p.ipk")).CombinedOutput()
	if err != nil || string(out) != "./debian-binary\n./data.tar.gz\n./control.tar.gz\n" {
		t.Fatalf("tar tzf: %v\n%s", err, out)
	}
	cmd := exec.Command(tarTool, "xzf", "p.ipk")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar xzf: %v\n%s", err, out)
	}
	out, err = exec.Command(tarTool, "tzvf", filepath.Join(dir, "data.tar.gz")).CombinedOutput()
	if err != nil {
		t.Fatalf("tar tzvf data.tar.gz: %v\n%s", err, out)
	}
	for _, want := range []string{
		`-rwxr-xr-x root/root .* \./usr/sbin/mcast-proxy`,
		`-rw-r--r-- root/root .* \./etc/config/mcast-proxy`,
		`-rwxr-xr-x root/root .* \./etc/init\.d/mcast-proxy`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("tar listing lacks %s:\n%s", want, out)
		}
	}
	out, err = exec.Command(tarTool, "tzvf", filepath.Join(dir, "control.tar.gz")).CombinedOutput()
	if err != nil || !regexp.MustCompile(`-rwxr-xr-x root/root .* \./postinst`).Match(out) {
		t.Errorf("tar tzvf control.tar.gz: %v\n%s", err, out)
	}
}

// TestCheckRejects: Check catches the mistakes it is there for.
func TestCheckRejects(t *testing.T) {
	m := machines["x86_64"]
	good := build(t, "x86_64", fakeELF(m.machine, m.order, m.class))
	mips := machines["mips_24kc"]
	tests := map[string][]byte{
		"not a package": []byte("hello"),
		"truncated":     good[:len(good)/2],
		"wrong binary":  build(t, "x86_64", fakeELF(mips.machine, mips.order, mips.class)),
		"not a binary":  build(t, "x86_64", []byte("#!/bin/sh\n")),
		// Debian's container, which OpenWrt's opkg does not read.
		"ar container": append([]byte("!<arch>\n"), good...),
	}
	for name, pkg := range tests {
		if _, err := Check(pkg); err == nil {
			t.Errorf("%s: Check accepts it", name)
		}
	}
	if _, err := Build(Options{Root: "../..", Bin: "/nonexistent", Arch: "x86_64", Version: "1"}); err == nil {
		t.Error("Build without a binary succeeds")
	}
	if _, err := Build(Options{Root: "../..", Bin: "/bin/sh", Arch: "x86_64", Version: "1 2"}); err == nil {
		t.Error("Build accepts a version with a space")
	}
}

// TestFeedMakefile keeps openwrt/mcast-proxy/Makefile and make ipk alike:
// the same files to the same places with the same install modes, the same
// conffiles and the same postinst.
func TestFeedMakefile(t *testing.T) {
	mk, err := os.ReadFile("../mcast-proxy/Makefile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(mk)
	installs := regexp.MustCompile(`\$\((INSTALL_BIN|INSTALL_DATA|INSTALL_CONF)\) (\S+) \$\(1\)(\S+)`).FindAllStringSubmatch(text, -1)
	got := map[string]string{}
	for _, m := range installs {
		got[m[3]] = m[1] + " " + m[2]
	}
	for _, f := range payload("") {
		mode := "INSTALL_DATA"
		if f.mode == 0o755 {
			mode = "INSTALL_BIN"
		}
		src := "$(PKG_BUILD_DIR)/" + f.src
		if f.dest == "/usr/sbin/mcast-proxy" {
			src = "$(PKG_INSTALL_DIR)/usr/bin/mcast-proxy"
		}
		if got[f.dest] != mode+" "+src {
			t.Errorf("Makefile installs %s as %q, want %q", f.dest, got[f.dest], mode+" "+src)
		}
		delete(got, f.dest)
	}
	for dest := range got {
		t.Errorf("Makefile installs %s, which make ipk does not", dest)
	}
	if !strings.Contains(text, "define Package/mcast-proxy/conffiles\n"+strings.Join(conffiles, "\n")+"\nendef") {
		t.Error("Makefile's conffiles differ")
	}
	post := regexp.MustCompile(`(?s)define Package/mcast-proxy/postinst\n(.*?)endef`).FindStringSubmatch(text)
	pkg, err := os.ReadFile("../../files/mcast-proxy.postinst-pkg")
	if err != nil {
		t.Fatal(err)
	}
	if post == nil || strings.ReplaceAll(post[1], "$$", "$") != string(pkg) {
		t.Errorf("Makefile's postinst differs from files/mcast-proxy.postinst-pkg")
	}
}
