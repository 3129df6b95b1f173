package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// vmModules are the modules the tests and the VM itself need, by name; their
// dependencies are added from the modules' own .modinfo. A kernel that has
// one of them built in needs nothing for it.
var vmModules = []string{
	"virtio_pci", "9pnet_virtio", "9p", "overlay", // the VM's root file system
	"veth", "bridge", "8021q", "dummy", // the test networks
}

// kernel is what the VM boots.
type kernel struct {
	name    string // said in every run: which kernel the tests ran on
	vmlinuz string
	modules string // lib/modules/VERSION, or "" when everything is built in
}

func (k kernel) String() string {
	return fmt.Sprintf("%s (%s)", k.name, k.vmlinuz)
}

type vmOptions struct {
	dir     string
	kernel  string
	modules string
	cpus    int
	memMiB  int
	timeout time.Duration
	// systemd boots the host's systemd as init and runs the program as a
	// service of it, for the tests of the systemd unit.
	systemd bool
	arch    vmArch
}

// archDir is where the kernel and userland of o's architecture are kept:
// the cache directory itself for amd64 (as before there were others), a
// directory of its own for the others.
func (o vmOptions) archDir() string {
	if o.arch.name == "" || o.arch.name == "amd64" {
		return o.dir
	}
	return filepath.Join(o.dir, o.arch.name)
}

// findKernel returns the kernel given by the user or else Debian's, fetched
// into the cache directory once.
func findKernel(o vmOptions) (kernel, error) {
	if o.kernel != "" {
		if _, err := os.Stat(o.kernel); err != nil {
			return kernel{}, fmt.Errorf("kernel: %w", err)
		}
		return kernel{name: "kernel " + filepath.Base(o.kernel), vmlinuz: o.kernel, modules: o.modules}, nil
	}
	if runtime.GOARCH != "amd64" {
		return kernel{}, fmt.Errorf("no default kernel for %s hosts: give one with KERNEL=path/to/vmlinuz KERNEL_MODULES=path/to/lib/modules/VERSION", runtime.GOARCH)
	}
	meta := o.arch.kernelPackage
	if meta == "" {
		meta = arches["amd64"].kernelPackage
	}
	return debianKernel(o.archDir(), meta)
}

// debianKernel fetches the package that the metapackage meta (Debian's
// stock kernel, which has CONFIG_IP_MROUTE, CONFIG_IPV6_MROUTE and multiple
// tables for both built in) depends on with apt-get download (no root
// needed, nothing installed) and unpacks it into dir. Without apt's package
// lists it falls back to a kernel fetched before.
func debianKernel(dir, meta string) (kernel, error) {
	spec, err := aptDependency(meta)
	if err != nil {
		if k, ok := cachedKernel(dir); ok {
			return k, nil
		}
		return kernel{}, err
	}
	pkg, _, _ := strings.Cut(spec, ":") // without :arch, as in the .deb's name
	dest := filepath.Join(dir, pkg)
	if k, err := unpackedKernel(dest); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return kernel{}, err
	}
	tmp, err := os.MkdirTemp(dir, "fetch-")
	if err != nil {
		return kernel{}, err
	}
	defer os.RemoveAll(tmp)
	// apt-get download as root warns that _apt cannot write the directory;
	// the download works all the same.
	cmd := exec.Command("apt-get", "download", "-q", spec)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return kernel{}, fmt.Errorf("apt-get download %s: %w\n%s", spec, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return kernel{}, fmt.Errorf("apt-get download %s: no .deb in %s", pkg, tmp)
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return kernel{}, fmt.Errorf("dpkg-deb -x %s: %w\n%s", debs[0], err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "PACKAGE"), []byte(strings.TrimSuffix(filepath.Base(debs[0]), ".deb")+"\n"), 0o644); err != nil {
		return kernel{}, err
	}
	// Another run may have unpacked the same kernel meanwhile: either copy is good.
	if err := os.Rename(root, dest); err != nil && !errors.Is(err, fs.ErrExist) && !isNotEmpty(err) {
		return kernel{}, err
	}
	return unpackedKernel(dest)
}

func isNotEmpty(err error) bool {
	var le *os.LinkError
	return errors.As(err, &le) && strings.Contains(le.Err.Error(), "not empty")
}

// aptDependency names the package that a metapackage depends on.
func aptDependency(meta string) (string, error) {
	out, err := exec.Command("apt-cache", "depends", meta).Output()
	if err != nil {
		hint := "on Debian, run 'apt-get update' first"
		if _, arch, ok := strings.Cut(meta, ":"); ok {
			hint = fmt.Sprintf("on Debian, run 'dpkg --add-architecture %s && apt-get update' first", arch)
		}
		return "", fmt.Errorf("apt-cache depends %s: %w (%s; elsewhere give KERNEL=path/to/vmlinuz)", meta, err, hint)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: "); ok && strings.HasPrefix(dep, "linux-image-") {
			return dep, nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s: no linux-image dependency (run 'apt-get update' first)", meta)
}

// cachedKernel finds a kernel unpacked by an earlier run.
func cachedKernel(dir string) (kernel, bool) {
	matches, _ := filepath.Glob(filepath.Join(dir, "linux-image-*"))
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		if k, err := unpackedKernel(matches[i]); err == nil {
			return k, true
		}
	}
	return kernel{}, false
}

// unpackedKernel describes a kernel package unpacked into root.
func unpackedKernel(root string) (kernel, error) {
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return kernel{}, fmt.Errorf("%s: no single boot/vmlinuz-*", root)
	}
	version := strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	name := "Debian " + filepath.Base(root)
	if b, err := os.ReadFile(filepath.Join(root, "PACKAGE")); err == nil {
		name = "Debian " + strings.ReplaceAll(strings.TrimSpace(string(b)), "_", " ")
	}
	return kernel{name: name, vmlinuz: images[0], modules: filepath.Join(root, "lib", "modules", version)}, nil
}

// moduleLoadOrder lists the .ko files to load for the wanted modules,
// dependencies before the modules that need them, each once. A module built
// into the kernel (modules.builtin) or absent from a custom kernel's tree is
// left out: the kernel either has it or the tests will say what is missing.
func moduleLoadOrder(dir string, wanted []string) (order []string, missing []string, err error) {
	return moduleLoadOrderWith(dir, wanted, moduleDepends)
}

// moduleLoadOrderWith is moduleLoadOrder with the reading of a module's
// dependencies given.
func moduleLoadOrderWith(dir string, wanted []string, depends func(path string) ([]string, error)) (order []string, missing []string, err error) {
	files := map[string]string{} // module name -> path
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".ko") {
			files[moduleName(filepath.Base(path))] = path
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("modules: %w", err)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, line := range strings.Fields(string(b)) {
			builtin[moduleName(filepath.Base(line))] = true
		}
	}
	done := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = moduleName(name)
		if done[name] {
			return nil
		}
		for _, c := range chain {
			if c == name {
				return fmt.Errorf("modules: dependency loop %s -> %s", strings.Join(chain, " -> "), name)
			}
		}
		path, ok := files[name]
		if !ok {
			done[name] = true
			if !builtin[name] {
				missing = append(missing, name)
			}
			return nil
		}
		deps, err := depends(path)
		if err != nil {
			return err
		}
		for _, dep := range deps {
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		done[name] = true
		order = append(order, path)
		return nil
	}
	for _, w := range wanted {
		if err := visit(w, nil); err != nil {
			return nil, nil, err
		}
	}
	return order, missing, nil
}

// moduleName is the kernel's spelling of a module name: no .ko, '-' as '_'.
func moduleName(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

// moduleDepends reads the depends= entry of a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("modules: %s has no .modinfo (compressed modules are not supported)", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("modules: %s: %w", path, err)
	}
	return parseModinfoDepends(data), nil
}

// parseModinfoDepends picks the dependencies out of a .modinfo section: NUL
// separated key=value strings, the dependencies comma separated.
func parseModinfoDepends(modinfo []byte) []string {
	var deps []string
	for _, field := range bytes.Split(modinfo, []byte{0}) {
		if v, ok := bytes.CutPrefix(field, []byte("depends=")); ok {
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, d)
				}
			}
		}
	}
	return deps
}
