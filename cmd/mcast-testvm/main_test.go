package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseModinfoDepends(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"license=GPL\x00depends=llc,stp\x00retpoline=Y\x00", []string{"llc", "stp"}},
		{"depends=\x00name=veth\x00", nil},
		{"name=dummy\x00", nil},
		{"", nil},
	}
	for _, tc := range tests {
		if got := parseModinfoDepends([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseModinfoDepends(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestModuleLoadOrder(t *testing.T) {
	dir := t.TempDir()
	deps := map[string][]string{
		"bridge":       {"stp", "llc"},
		"stp":          {"llc"},
		"llc":          nil,
		"9pnet-virtio": {"9pnet", "virtio_ring"},
		"9pnet":        nil,
		"virtio_ring":  nil,
		"loop1":        {"loop2"},
		"loop2":        {"loop1"},
	}
	for name := range deps {
		p := filepath.Join(dir, "kernel", name+".ko")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/net/ipv6/ipv6.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	depends := func(path string) ([]string, error) {
		return deps[strings.TrimSuffix(filepath.Base(path), ".ko")], nil
	}
	order, missing, err := moduleLoadOrderWith(dir, []string{"bridge", "ipv6", "9pnet_virtio", "stp", "nosuch"}, depends)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range order {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".ko"))
	}
	want := []string{"llc", "stp", "bridge", "9pnet", "virtio_ring", "9pnet-virtio"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("load order %q, want %q", names, want)
	}
	if !reflect.DeepEqual(missing, []string{"nosuch"}) {
		t.Errorf("missing %q, want [nosuch] (ipv6 is built in)", missing)
	}
	if _, _, err := moduleLoadOrderWith(dir, []string{"loop1"}, depends); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("dependency loop: err = %v", err)
	}
}

// readCPIO parses a newc archive: name -> (mode, data).
func readCPIO(t *testing.T, b []byte) map[string]struct {
	mode uint64
	data []byte
} {
	t.Helper()
	out := map[string]struct {
		mode uint64
		data []byte
	}{}
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; ; {
		if len(b) < off+110 || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		name := string(b[off+110 : off+110+namesize-1])
		if b[off+110+namesize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		data := off + align(110+namesize)
		if name == "TRAILER!!!" {
			if data != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-data)
			}
			return out
		}
		out[name] = struct {
			mode uint64
			data []byte
		}{mode, b[data : data+size]}
		off = data + align(size)
	}
}

func TestBuildInitramfs(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	mod := filepath.Join(dir, "veth.ko")
	os.WriteFile(bb, []byte("\x7fELF busybox"), 0o755)
	os.WriteFile(mod, []byte("odd-length"), 0o644)
	img := filepath.Join(dir, "initramfs.cpio")
	if err := buildInitramfs(img, bb, []string{mod}, "/tmp/it's here", false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	files := readCPIO(t, b)
	if f := files["bin/busybox"]; string(f.data) != "\x7fELF busybox" || f.mode != cpioFile|0o755 {
		t.Errorf("bin/busybox: mode %o data %q", f.mode, f.data)
	}
	if f := files["lib/modules/00-veth.ko"]; string(f.data) != "odd-length" {
		t.Errorf("module: %q", f.data)
	}
	if f := files["dev/console"]; f.mode != cpioChar|0o600 {
		t.Errorf("dev/console mode %o", f.mode)
	}
	init := string(files["init"].data)
	for _, want := range []string{"insmod '/lib/modules/00-veth.ko'", `/newroot'/tmp/it'\''s here'`, "poweroff -f"} {
		if !strings.Contains(init, want) {
			t.Errorf("init lacks %q:\n%s", want, init)
		}
	}
	// The kernel's own unpacker is the authority; cpio(1), where present,
	// reads the same format.
	if cpio, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command(cpio, "-t", "--quiet")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio -t: %v", err)
		}
		if !strings.Contains(string(out), "lib/modules/00-veth.ko\n") {
			t.Errorf("cpio -t lists:\n%s", out)
		}
	}
}

func TestRunScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	args := []string{"it's", "two words", `$HOME "quoted" \back`, ""}
	script := runScript(dir, []string{"MCAST_X=a'b c", "BAD-NAME=x", "PATH=" + os.Getenv("PATH")}, "/bin/sh",
		append([]string{"-c", `pwd; printf '<%s>' "$MCAST_X" "$@"`, "sh"}, args...))
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	want := dir + "\n<a'b c><it's><two words><$HOME \"quoted\" \\back><>"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if strings.Contains(script, "BAD-NAME") {
		t.Errorf("script exports a name a shell cannot: %s", script)
	}
}

// With systemd, init hands over to the host's systemd with a unit that runs
// the program and powers off, and keeps /tmp as the host has it; a run
// directory that would break the unit's unquoted command is refused.
func TestBuildInitramfsSystemd(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("\x7fELF busybox"), 0o755)
	img := filepath.Join(dir, "initramfs.cpio")
	if err := buildInitramfs(img, bb, nil, "/cache/run-1", true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	init := string(readCPIO(t, b)["init"].data)
	for _, want := range []string{
		"ExecStart=/bin/sh -c '/bin/sh /cache/run-1/run.sh >>/cache/run-1/output 2>&1; echo $? >/cache/run-1/rc.tmp; mv /cache/run-1/rc.tmp /cache/run-1/rc; sync'",
		"SuccessAction=poweroff-force\nFailureAction=poweroff-force\n[Service]",
		"ln -sf /dev/null /newroot/etc/systemd/system/tmp.mount",
		"exec switch_root /newroot /lib/systemd/systemd --unit=mcast-testvm.target",
	} {
		if !strings.Contains(init, want) {
			t.Errorf("init lacks %q:\n%s", want, init)
		}
	}
	if err := buildInitramfs(img, bb, nil, "/tmp/it's here", true); err == nil {
		t.Error("a run directory with a quote was accepted for systemd")
	}
}
