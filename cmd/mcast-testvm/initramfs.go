package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks as its initial
// RAM file system (Documentation/driver-api/early-userspace/buffer-format.rst).
// It needs no root: device nodes are only headers.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	err error
}

const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
	cpioChar = 0o020000
)

// entry writes one member; data is nil for directories and devices.
func (c *cpioWriter) entry(name string, mode uint32, rdevMajor, rdevMinor uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	var b bytes.Buffer
	b.WriteString(hdr)
	b.WriteString(name)
	b.WriteByte(0)
	pad(&b)
	b.Write(data)
	pad(&b)
	_, c.err = c.w.Write(b.Bytes())
}

// pad aligns the archive to 4 bytes, as newc requires after names and data.
func pad(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

func (c *cpioWriter) dir(name string) { c.entry(name, cpioDir|0o755, 0, 0, nil) }
func (c *cpioWriter) file(name string, mode uint32, data []byte) {
	c.entry(name, cpioFile|mode, 0, 0, data)
}

// close writes the trailer.
func (c *cpioWriter) close() error {
	c.entry("TRAILER!!!", 0, 0, 0, nil)
	return c.err
}

// initParams fill the VM's init script.
type initParams struct {
	Modules []string // paths inside the initramfs, in load order
	Out     string   // the host directory shared writable for the run
	Systemd bool     // boot systemd and run the program as its service
	// Userland lays the 9p share "userland" (a foreign architecture's own
	// /usr, with busybox as /bin/sh) over the host's root.
	Userland bool
	Halt     string // stops the VM; "poweroff -f" when empty
	// CopyUp are the files (paths in the VM's root) copied into memory
	// before the program runs, see initScript.
	CopyUp []string
}

// initScript is PID 1 in the VM. It mounts the host's root read-only over
// 9p with a writable layer in memory on top (so paths are the host's, and
// the tests can write where they expect to), runs the host-written run.sh
// in it, and records the exit status in the shared directory before
// powering off. Nothing of the VM survives the run.
var initScript = template.Must(template.New("init").Funcs(template.FuncMap{"q": shellQuote}).Parse(`#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
{{range .Modules}}insmod {{q .}} || echo "mcast-testvm: insmod {{.}} failed"
{{end}}
ip link set lo up
mkdir -p /lower /rw /newroot /out
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower || exec {{.Halt}}
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
{{if .Userland}}mkdir -p /userland
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 userland /userland || exec {{.Halt}}
mount -t overlay overlay -o userxattr,lowerdir=/userland:/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || exec {{.Halt}}
{{else}}mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || exec {{.Halt}}
{{end}}mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || exec {{.Halt}}
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mount -o bind /out /newroot{{q .Out}}
echo "mcast-testvm: running on Linux $(uname -r) in the VM" >/out/output
{{range .CopyUp}}[ -f /newroot{{q .}} ] && { touch -c /newroot{{q .}} || echo "mcast-testvm: cannot copy {{.}} into memory" >>/out/output; }
{{end}}{{if .Systemd}}# The program runs as a service of the host's systemd, which powers the VM
# off when it ends; the run directory stays where the host has it.
mkdir -p /newroot/etc/systemd/system
cat >/newroot/etc/systemd/system/mcast-testvm.service <<'UNIT'
[Unit]
Description=mcast-testvm: the program under test
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/bin/sh {{.Out}}/run.sh >>{{.Out}}/output 2>&1; echo $? >{{.Out}}/rc.tmp; mv {{.Out}}/rc.tmp {{.Out}}/rc; sync'
UNIT
cat >/newroot/etc/systemd/system/mcast-testvm.target <<'UNIT'
[Unit]
Description=mcast-testvm
Requires=mcast-testvm.service
After=mcast-testvm.service
AllowIsolate=yes
UNIT
# /tmp stays the host's, where go test puts the test binary: no tmpfs on
# it, and no emptying at boot (tmpfiles' "D /tmp").
ln -sf /dev/null /newroot/etc/systemd/system/tmp.mount
mkdir -p /newroot/etc/tmpfiles.d
echo "d /tmp 1777 root root -" >/newroot/etc/tmpfiles.d/tmp.conf
echo "mcast-testvm: booting systemd" >>/out/output
exec switch_root /newroot /lib/systemd/systemd --unit=mcast-testvm.target --show-status=no
{{end}}chroot /newroot /bin/sh {{q .Out}}/run.sh >>/out/output 2>&1
echo $? >/out/rc.tmp
mv /out/rc.tmp /out/rc
umount /newroot{{q .Out}}
umount /out
sync
{{.Halt}}
`))

// buildInitramfs writes the initial RAM file system of one run: busybox,
// the modules and the init script.
func buildInitramfs(path string, busybox string, modules []string, out string, systemd bool) error {
	return buildInitramfsWith(path, busybox, modules, initParams{Out: out, Systemd: systemd})
}

// buildInitramfsWith is buildInitramfs with all of the init script's
// parameters but the modules given.
func buildInitramfsWith(path string, busybox string, modules []string, params initParams) error {
	out, systemd := params.Out, params.Systemd
	if params.Halt == "" {
		params.Halt = "poweroff -f"
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("busybox: %w (install busybox-static)", err)
	}
	var b bytes.Buffer
	c := &cpioWriter{w: &b}
	for _, d := range []string{"bin", "dev", "proc", "sys", "lib", "lib/modules"} {
		c.dir(d)
	}
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	c.entry("dev/console", cpioChar|0o600, 5, 1, nil)
	c.file("bin/busybox", 0o755, bb)
	if systemd && strings.ContainsAny(out, " '\"\\$%") {
		return fmt.Errorf("the run directory %q cannot go into a systemd unit unquoted; choose another -dir", out)
	}
	for i, m := range modules {
		data, err := os.ReadFile(m)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("lib/modules/%02d-%s", i, filepath.Base(m))
		c.file(name, 0o644, data)
		params.Modules = append(params.Modules, "/"+name)
	}
	var script strings.Builder
	if err := initScript.Execute(&script, params); err != nil {
		return err
	}
	c.file("init", 0o755, []byte(script.String()))
	if err := c.close(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
