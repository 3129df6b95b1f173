package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// busyboxPath is where Debian's busybox-static installs its binary.
const busyboxPath = "/bin/busybox"

// execInVM boots the VM, runs prog with args in it and returns prog's exit
// status. The VM is stopped, and the run's files removed, whatever happens.
func execInVM(o vmOptions, prog string, args []string) (int, error) {
	k, err := findKernel(o)
	if err != nil {
		return 0, err
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return 0, fmt.Errorf("qemu-system-x86_64 not found: install qemu-system-x86 (apt-get install qemu-system-x86)")
	}
	if runtime.GOARCH != "amd64" {
		return 0, fmt.Errorf("the VM runs x86-64 programs; this host is %s", runtime.GOARCH)
	}
	var modules, missing []string
	if k.modules != "" {
		if modules, missing, err = moduleLoadOrder(k.modules, vmModules); err != nil {
			return 0, err
		}
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "mcast-testvm: %s has no module %s; assuming it is built in\n", k.name, strings.Join(missing, ", "))
		}
	}
	prog, err = programPath(prog)
	if err != nil {
		return 0, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return 0, err
	}
	run, err := os.MkdirTemp(o.dir, "run-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(run)
	if run, err = filepath.Abs(run); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(run, "run.sh"), []byte(runScript(cwd, os.Environ(), prog, args)), 0o755); err != nil {
		return 0, err
	}
	initrd := filepath.Join(run, "initramfs.cpio")
	if err := buildInitramfs(initrd, busyboxPath, modules, run, o.systemd); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "mcast-testvm: booting %s under QEMU (TCG, %d vCPUs, %d MiB): %s\n",
		k.name, o.cpus, o.memMiB, filepath.Base(prog))

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	console := filepath.Join(run, "console.log")
	cmd := exec.CommandContext(ctx, qemu, qemuArgs(o, k, initrd, run, console)...)
	cmd.Stdin = nil
	var qemuOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &qemuOut, &qemuOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start qemu: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	output := filepath.Join(run, "output")
	var offset int64
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-done:
			break wait
		case <-tick.C:
			offset = copyNew(output, offset, os.Stdout)
		}
	}
	copyNew(output, offset, os.Stdout)

	rc, err := os.ReadFile(filepath.Join(run, "rc"))
	if err == nil {
		code, err := strconv.Atoi(strings.TrimSpace(string(rc)))
		if err == nil {
			fmt.Fprintf(os.Stderr, "mcast-testvm: %s exited %d after %s in the VM\n", filepath.Base(prog), code, time.Since(start).Round(time.Second))
			return code, nil
		}
	}
	why := "the VM stopped before the program ended"
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		why = fmt.Sprintf("the VM was stopped after %s (-timeout)", o.timeout)
	case ctx.Err() != nil:
		why = "interrupted"
	case waitErr != nil:
		why = fmt.Sprintf("qemu: %v", waitErr)
	}
	return 0, &exitError{code: 1, err: fmt.Errorf("%s\n--- qemu ---\n%s--- console (last lines) ---\n%s", why, qemuOut.String(), tail(console, 40))}
}

// programPath makes prog absolute, looking it up in PATH if it has no slash,
// since the VM starts from its own root.
func programPath(prog string) (string, error) {
	if !strings.Contains(prog, "/") {
		return exec.LookPath(prog)
	}
	return filepath.Abs(prog)
}

// qemuArgs is the VM: no network card (the tests build their own networks
// in namespaces), the host's root and the run directory over virtio-9p, a
// random number generator so that nothing waits for entropy at boot, and the
// serial console into a file read only when something goes wrong.
func qemuArgs(o vmOptions, k kernel, initrd, run, console string) []string {
	return []string{
		"-nodefaults", "-no-reboot", "-display", "none",
		"-machine", "pc", "-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", strconv.Itoa(o.cpus), "-m", strconv.Itoa(o.memMiB),
		"-kernel", k.vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 quiet loglevel=4 panic=-1 random.trust_cpu=on",
		"-serial", "file:" + console,
		"-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
		"-fsdev", "local,id=out,path=" + run + ",security_model=none",
		"-device", "virtio-9p-pci,fsdev=out,mount_tag=out",
		"-device", "virtio-rng-pci",
	}
}

// runScript is what the VM runs: the host's working directory, environment
// and command. HOME and TMPDIR keep their host values; writes land in the
// VM's memory.
func runScript(cwd string, env []string, prog string, args []string) string {
	var b strings.Builder
	b.WriteString("cd " + shellQuote(cwd) + " || exit 125\n")
	sort.Strings(env)
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !validEnvName(k) {
			continue
		}
		b.WriteString("export " + k + "=" + shellQuote(v) + "\n")
	}
	b.WriteString("exec " + shellQuote(prog))
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

// validEnvName accepts names a POSIX shell can export.
func validEnvName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// copyNew copies what was appended to path since offset and returns the new
// offset.
func copyNew(path string, offset int64, w io.Writer) int64 {
	f, err := os.Open(path)
	if err != nil {
		return offset
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset
	}
	n, _ := io.Copy(w, f)
	return offset + n
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
