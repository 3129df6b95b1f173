package main

import (
	"bytes"
	"context"
	"debug/elf"
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
	a := o.arch
	qemu, err := exec.LookPath(a.qemu)
	if err != nil {
		return 0, fmt.Errorf("%s not found: install %s (apt-get install %s)", a.qemu, a.qemuPackage, a.qemuPackage)
	}
	if !a.foreign() && runtime.GOARCH != a.goarch {
		return 0, fmt.Errorf("the VM runs %s programs on the host's root; this host is %s", a.goarch, runtime.GOARCH)
	}
	busybox, userlandDir := busyboxPath, ""
	if a.foreign() {
		if o.systemd {
			return 0, fmt.Errorf("-systemd boots the host's systemd: only with -arch %s", runtime.GOARCH)
		}
		if userlandDir, err = userland(o); err != nil {
			return 0, err
		}
		busybox = filepath.Join(userlandDir, "usr", "bin", "busybox")
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
	if err := checkProgramArch(prog, a); err != nil {
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
	params := initParams{Out: run, Systemd: o.systemd, Userland: userlandDir != "", Halt: a.halt}
	if userlandDir != "" {
		params.CopyUp = copyUpList(userlandDir, prog, os.Environ())
	}
	if err := buildInitramfsWith(initrd, busybox, modules, params); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "mcast-testvm: booting %s under %s (TCG, %d vCPUs, %d MiB): %s\n",
		k.name, filepath.Base(qemu), o.cpus, o.memMiB, filepath.Base(prog))

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	// SIGQUIT too: go test sends it to -exec's program when -timeout
	// runs out, and the runtime's default (dump and exit) left qemu
	// running, an orphan burning a CPU until its program ended.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	console := filepath.Join(run, "console.log")
	cmd := exec.CommandContext(ctx, qemu, a.qemuArgs(o, k, initrd, run, console, userlandDir)...)
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

// copyUpList names the executables that a foreign VM copies from 9p into
// memory (an overlayfs copy-up) before running the program: the userland's,
// the program and those that the environment names by absolute path (such
// as the daemon under test, $MCAST_PROXY_BIN).
//
// Why: execve reads the file's security.capability attribute. QEMU's 9p
// server answers that it does not support the security.* and trusted.*
// attributes with the host's EOPNOTSUPP, 95 on x86-64, and the 9p protocol
// carries errno numbers as they are; on MIPS 95 is ENOTSOCK, which the
// kernel takes for a real error, so every execve of a file on 9p fails with
// "Socket operation on non-socket". A file copied up to the tmpfs layer has
// no such problem. (overlayfs's own attributes are kept in user.overlay.*,
// mount option userxattr, which QEMU passes through, for the same reason.)
func copyUpList(userland, prog string, env []string) []string {
	seen := map[string]bool{}
	var list []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	for _, d := range []string{"usr/bin", "usr/sbin"} {
		entries, _ := os.ReadDir(filepath.Join(userland, d))
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				add("/" + d + "/" + e.Name())
			}
		}
	}
	add(prog)
	sort.Strings(env)
	for _, kv := range env {
		_, v, _ := strings.Cut(kv, "=")
		if !filepath.IsAbs(v) || strings.ContainsAny(v, ":\n") {
			continue
		}
		if fi, err := os.Stat(v); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			add(filepath.Clean(v))
		}
	}
	return list
}

// checkProgramArch refuses a program built for another machine than the
// VM's, which would otherwise fail inside it with "exec format error". A
// program that is not ELF (a script) is let through.
func checkProgramArch(prog string, a vmArch) error {
	f, err := elf.Open(prog)
	if err != nil {
		return nil
	}
	defer f.Close()
	want, ok := elfMachines[a.goarch]
	if !ok {
		return nil
	}
	if f.Machine != want.machine || f.Class != want.class || f.Data != want.data {
		return fmt.Errorf("%s is built for %s %s %s, the VM (-arch %s) runs %s %s %s: build it with GOARCH=%s",
			prog, f.Machine, f.Class, f.Data, a.name, want.machine, want.class, want.data, a.goarch)
	}
	return nil
}

var elfMachines = map[string]struct {
	machine elf.Machine
	class   elf.Class
	data    elf.Data
}{
	"amd64":  {elf.EM_X86_64, elf.ELFCLASS64, elf.ELFDATA2LSB},
	"mipsle": {elf.EM_MIPS, elf.ELFCLASS32, elf.ELFDATA2LSB},
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
