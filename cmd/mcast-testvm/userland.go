package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// userland returns the directory holding the foreign architecture's own
// userland (busybox, iproute2 and the libraries it links), built once into
// the cache from Debian's packages: apt-get download and dpkg-deb -x, no
// root, nothing installed, no emulator. The VM lays it over the host's root,
// so that paths stay the host's while /bin/sh, ip and the dynamic linker are
// the VM's own. Without apt's package lists it falls back to one built before.
func userland(o vmOptions) (string, error) {
	a := o.arch
	dest := filepath.Join(o.archDir(), "userland")
	if _, err := os.Stat(filepath.Join(dest, "PACKAGES")); err == nil {
		return dest, nil
	}
	pkgs, err := aptClosure(a.userlandPackages, a.debArch)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.archDir(), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(o.archDir(), "fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("apt-get", append([]string{"download", "-q"}, pkgs...)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download (%s userland): %w\n%s", a.debArch, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != len(pkgs) {
		return "", fmt.Errorf("apt-get download: %d packages asked, %d .deb files in %s", len(pkgs), len(debs), tmp)
	}
	root := filepath.Join(tmp, "root")
	var names []string
	for _, deb := range debs {
		if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
			return "", fmt.Errorf("dpkg-deb -x %s: %w\n%s", deb, err, out)
		}
		names = append(names, strings.TrimSuffix(filepath.Base(deb), ".deb"))
	}
	if err := mergeUsr(root); err != nil {
		return "", err
	}
	// /bin/sh is busybox: run.sh and the tests' shell commands.
	sh := filepath.Join(root, "usr", "bin", "sh")
	if _, err := os.Lstat(sh); errors.Is(err, fs.ErrNotExist) {
		if err := os.Symlink("busybox", sh); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr", "bin", "busybox")); err != nil {
		return "", fmt.Errorf("%s userland: no busybox (%w)", a.debArch, err)
	}
	sort.Strings(names)
	if err := os.WriteFile(filepath.Join(root, "PACKAGES"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dest) // an unfinished one
	if err := os.Rename(root, dest); err != nil && !errors.Is(err, fs.ErrExist) && !isNotEmpty(err) {
		return "", err
	}
	return dest, nil
}

// aptClosure names the packages of architecture arch that pkgs need, pkgs
// included, as pkg:arch: apt-cache's recursive Depends, less what is of
// another architecture (Architecture: all packages such as debconf, which a
// userland for running ip does not need) and virtual packages.
func aptClosure(pkgs []string, arch string) ([]string, error) {
	args := []string{"depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
		"--no-breaks", "--no-replaces", "--no-enhances", "--no-pre-depends"}
	for _, p := range pkgs {
		args = append(args, p+":"+arch)
	}
	out, err := exec.Command("apt-cache", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends %s: %w (on Debian, run 'dpkg --add-architecture %s && apt-get update' first)",
			strings.Join(pkgs, " "), err, arch)
	}
	return parseAptClosure(out, arch), nil
}

// parseAptClosure picks the package lines (not indented, not <virtual>) of
// apt-cache depends --recurse that are of architecture arch.
func parseAptClosure(out []byte, arch string) []string {
	seen := map[string]bool{}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '<' || !strings.HasSuffix(line, ":"+arch) || seen[line] {
			continue
		}
		seen[line] = true
		names = append(names, line)
	}
	sort.Strings(names)
	return names
}

// mergeUsr moves /bin, /sbin and /lib into /usr and leaves symlinks, as on
// the host (and on Debian since bookworm): laid over the host's root, the
// userland's ip and sh then shadow the host's in /usr/bin, whichever PATH
// the program has.
func mergeUsr(root string) error {
	for _, d := range []string{"bin", "sbin", "lib"} {
		top := filepath.Join(root, d)
		fi, err := os.Lstat(top)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(filepath.Join(root, "usr", d), 0o755); err != nil {
				return err
			}
			if err := os.Symlink("usr/"+d, top); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			continue
		}
		if err := moveInto(top, filepath.Join(root, "usr", d)); err != nil {
			return err
		}
		if err := os.RemoveAll(top); err != nil {
			return err
		}
		if err := os.Symlink("usr/"+d, top); err != nil {
			return err
		}
	}
	return nil
}

// moveInto moves the entries of src into dst, merging directories; an entry
// that dst already has is kept as dst has it.
func moveInto(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		di, err := os.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Rename(s, d); err != nil {
				return err
			}
		case err != nil:
			return err
		case e.IsDir() && di.IsDir():
			if err := moveInto(s, d); err != nil {
				return err
			}
		}
	}
	return nil
}
