package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// machines are the ELF machine, byte order and class of each architecture
// make ipk builds for.
var machines = map[string]struct {
	machine elf.Machine
	order   binary.ByteOrder
	class   elf.Class
}{
	"mips_24kc":                {elf.EM_MIPS, binary.BigEndian, elf.ELFCLASS32},
	"mipsel_24kc":              {elf.EM_MIPS, binary.LittleEndian, elf.ELFCLASS32},
	"arm_cortex-a7_neon-vfpv4": {elf.EM_ARM, binary.LittleEndian, elf.ELFCLASS32},
	"aarch64_cortex-a53":       {elf.EM_AARCH64, binary.LittleEndian, elf.ELFCLASS64},
	"x86_64":                   {elf.EM_X86_64, binary.LittleEndian, elf.ELFCLASS64},
}

// Info is what Check found in a package.
type Info struct {
	Control   map[string]string // fields of the control file
	Scripts   map[string]string // control.tar.gz's other files
	Files     map[string]*tar.Header
	Contents  map[string][]byte
	DataSize  int64 // the uncompressed data tar
	Installed int64 // the files' sizes added up
}

// Check reads an .ipk the way OpenWrt's opkg does (a gzipped tar holding
// debian-binary, control.tar.gz and data.tar.gz) and verifies what make ipk
// promises: the layout, the control fields, conffiles, the maintainer
// scripts, the files with their modes, and a binary for the package's
// architecture.
func Check(pkg []byte) (*Info, error) {
	outer, _, err := readTarGz(pkg)
	if err != nil {
		return nil, fmt.Errorf("not a gzipped tar, as OpenWrt's opkg reads packages: %w", err)
	}
	var names []string
	for n := range outer.headers {
		names = append(names, n)
	}
	slices.Sort(names)
	if strings.Join(names, " ") != "./control.tar.gz ./data.tar.gz ./debian-binary" {
		return nil, fmt.Errorf("package holds %q, want ./debian-binary, ./control.tar.gz and ./data.tar.gz", names)
	}
	if string(outer.contents["./debian-binary"]) != "2.0\n" {
		return nil, fmt.Errorf("debian-binary is %q, want 2.0", outer.contents["./debian-binary"])
	}
	info := &Info{Control: map[string]string{}, Scripts: map[string]string{}, Files: map[string]*tar.Header{}, Contents: map[string][]byte{}}
	ctl, _, err := readTarGz(outer.contents["./control.tar.gz"])
	if err != nil {
		return nil, fmt.Errorf("control.tar.gz: %w", err)
	}
	control, ok := ctl.contents["./control"]
	if !ok {
		return nil, fmt.Errorf("control.tar.gz has no ./control")
	}
	key := ""
	for _, line := range strings.Split(strings.TrimRight(string(control), "\n"), "\n") {
		if strings.HasPrefix(line, " ") && key != "" {
			info.Control[key] += "\n" + line
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("control line %q is not a field", line)
		}
		key = k
		info.Control[k] = strings.TrimSpace(v)
	}
	for name, data := range ctl.contents {
		if name != "./control" {
			info.Scripts[strings.TrimPrefix(name, "./")] = string(data)
		}
	}
	data, size, err := readTarGz(outer.contents["./data.tar.gz"])
	if err != nil {
		return nil, fmt.Errorf("data.tar.gz: %w", err)
	}
	info.Files, info.Contents, info.DataSize = data.headers, data.contents, size
	for _, h := range data.headers {
		info.Installed += h.Size
	}

	for _, f := range []string{"Package", "Version", "Depends", "Architecture", "Installed-Size", "Require-User", "Description"} {
		if info.Control[f] == "" {
			return nil, fmt.Errorf("control has no %s", f)
		}
	}
	if info.Control["Package"] != Name {
		return nil, fmt.Errorf("Package %q, want %s", info.Control["Package"], Name)
	}
	if n, err := strconv.ParseInt(info.Control["Installed-Size"], 10, 64); err != nil || n != size {
		return nil, fmt.Errorf("Installed-Size %q, want %d (the data tar's size)", info.Control["Installed-Size"], size)
	}
	if got, want := info.Scripts["conffiles"], strings.Join(conffiles, "\n")+"\n"; got != want {
		return nil, fmt.Errorf("conffiles %q, want %q", got, want)
	}
	for _, s := range []struct{ name, want string }{{"postinst", postinst}, {"prerm", prerm}} {
		if info.Scripts[s.name] != s.want {
			return nil, fmt.Errorf("%s is not OpenWrt's default one:\n%s", s.name, info.Scripts[s.name])
		}
		if h := ctl.headers["./"+s.name]; h.Mode&0o111 == 0 {
			return nil, fmt.Errorf("%s is not executable", s.name)
		}
	}
	if _, ok := info.Scripts["postinst-pkg"]; !ok {
		return nil, fmt.Errorf("control.tar.gz has no postinst-pkg")
	}
	for _, f := range payload("") {
		h, ok := data.headers["."+f.dest]
		if !ok {
			return nil, fmt.Errorf("data.tar.gz has no %s", f.dest)
		}
		if h.Mode != f.mode || h.Uid != 0 || h.Gid != 0 {
			return nil, fmt.Errorf("%s: mode %o owner %d:%d, want %o root", f.dest, h.Mode, h.Uid, h.Gid, f.mode)
		}
	}
	for _, c := range conffiles {
		if _, ok := data.headers["."+c]; !ok {
			return nil, fmt.Errorf("conffile %s is not in the package", c)
		}
	}
	arch := info.Control["Architecture"]
	want, ok := machines[arch]
	if !ok {
		return nil, fmt.Errorf("unknown architecture %q", arch)
	}
	bin, err := elf.NewFile(bytes.NewReader(data.contents["./usr/sbin/mcast-proxy"]))
	if err != nil {
		return nil, fmt.Errorf("/usr/sbin/mcast-proxy: %w", err)
	}
	if bin.Machine != want.machine || bin.ByteOrder != want.order || bin.Class != want.class {
		return nil, fmt.Errorf("/usr/sbin/mcast-proxy is %v %v %v, not a binary for %s", bin.Machine, bin.ByteOrder, bin.Class, arch)
	}
	return info, nil
}

type tarContents struct {
	headers  map[string]*tar.Header
	contents map[string][]byte
}

// readTarGz reads a gzipped tar and returns its entries and the size of
// the tar.
func readTarGz(b []byte) (tarContents, int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return tarContents{}, 0, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return tarContents{}, 0, err
	}
	tc := tarContents{headers: map[string]*tar.Header{}, contents: map[string][]byte{}}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tarContents{}, 0, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return tarContents{}, 0, err
		}
		tc.headers[h.Name], tc.contents[h.Name] = h, data
	}
	return tc, int64(len(raw)), nil
}
