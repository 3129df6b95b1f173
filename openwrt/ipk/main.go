// Command ipk builds an OpenWrt package (.ipk) of mcast-proxy from a static
// cross build, for users without the OpenWrt SDK (make ipk). The package
// holds what the feed package's Makefile (openwrt/mcast-proxy/Makefile)
// installs, from the same files in init/ and files/.
//
// An .ipk holds debian-binary ("2.0"), control.tar.gz and data.tar.gz. On
// OpenWrt the container is a gzipped tar, as OpenWrt's ipkg-build writes
// it: OpenWrt's opkg (opkg-lede, deb_extract in libbb/unarchive.c) reads
// the outer archive only as a gzipped tar, so the ar container of Debian
// packages and of other opkg forks would not install. The control file
// carries Package, Version, Depends, Architecture and Installed-Size (the
// size of the uncompressed data tar, in bytes, as ipkg-build counts it),
// and Require-User, from which OpenWrt's default_postinst creates the
// daemon's user. postinst and prerm are OpenWrt's: default_postinst
// (create the user, run postinst-pkg, enable and start the service) and
// default_prerm (stop and disable it).
//
//	go run ./openwrt/ipk -bin bin/mcast-proxy-linux-mips -arch mips_24kc -version 0.1.0-1 -out bin/ipk
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Name is the package's name.
const Name = "mcast-proxy"

// file is one file of the package: where it goes, its mode, and where its
// contents come from (relative to the repository) or the contents.
type file struct {
	dest string
	mode int64
	src  string
	data []byte
}

// payload lists what the package installs, as the feed Makefile does.
func payload(bin string) []file {
	return []file{
		{dest: "/usr/sbin/mcast-proxy", mode: 0o755, src: bin},
		{dest: "/etc/init.d/mcast-proxy", mode: 0o755, src: "init/mcast-proxy.init"},
		{dest: "/etc/config/mcast-proxy", mode: 0o644, src: "files/mcast-proxy.config"},
		{dest: "/etc/capabilities/mcast-proxy.json", mode: 0o644, src: "files/mcast-proxy.capabilities.json"},
		{dest: "/usr/libexec/rpcd/mcast-proxy", mode: 0o755, src: "files/mcast-proxy.rpcd"},
		{dest: "/usr/share/rpcd/acl.d/mcast-proxy.json", mode: 0o644, src: "files/mcast-proxy.rpcd-acl.json"},
		{dest: "/usr/share/acl.d/mcast-proxy.json", mode: 0o644, src: "files/mcast-proxy.ubus-acl.json"},
	}
}

// conffiles are kept across upgrades when the user changed them.
var conffiles = []string{"/etc/config/mcast-proxy"}

// OpenWrt's maintainer scripts, as its build system writes them for every
// package.
const (
	postinst = `#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
`
	prerm = `#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
`
)

// Options say which package to build.
type Options struct {
	Root    string    // the repository
	Bin     string    // the static binary, relative to Root or absolute
	Arch    string    // OpenWrt architecture: mips_24kc, x86_64, ...
	Version string    // package version, with the release: 0.1.0-1
	MTime   time.Time // time stamp of every file, for reproducible packages
}

func main() {
	var o Options
	var out string
	var mtime int64
	flag.StringVar(&o.Root, "root", ".", "the repository `dir`")
	flag.StringVar(&o.Bin, "bin", "", "the static mcast-proxy `binary` for the architecture")
	flag.StringVar(&o.Arch, "arch", "", "OpenWrt `architecture` (opkg print-architecture): mips_24kc, mipsel_24kc, arm_cortex-a7_neon-vfpv4, aarch64_cortex-a53, x86_64")
	flag.StringVar(&o.Version, "version", "", "package `version`, e.g. 0.1.0-1")
	flag.StringVar(&out, "out", ".", "output `dir`")
	flag.Int64Var(&mtime, "mtime", 0, "time stamp of the files, in Unix `seconds` (SOURCE_DATE_EPOCH)")
	check := flag.Bool("check", false, "check the .ipk `files` given as arguments instead of building one")
	flag.Parse()
	if *check {
		os.Exit(checkFiles(flag.Args()))
	}
	if o.Bin == "" || o.Arch == "" || o.Version == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	o.MTime = time.Unix(mtime, 0)
	pkg, err := Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ipk:", err)
		os.Exit(1)
	}
	name := filepath.Join(out, fmt.Sprintf("%s_%s_%s.ipk", Name, o.Version, o.Arch))
	if err := os.WriteFile(name, pkg, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "ipk:", err)
		os.Exit(1)
	}
	fmt.Printf("%-60s %8d bytes\n", name, len(pkg))
}

// checkFiles checks packages and prints their sizes.
func checkFiles(names []string) int {
	code := 0
	for _, n := range names {
		pkg, err := os.ReadFile(n)
		if err == nil {
			var info *Info
			if info, err = Check(pkg); err == nil {
				fmt.Printf("%s: OK, %s, %d bytes, installed %d bytes\n", n, info.Control["Architecture"], len(pkg), info.Installed)
				continue
			}
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", n, err)
		code = 1
	}
	return code
}

// Build returns the .ipk.
func Build(o Options) ([]byte, error) {
	if strings.ContainsAny(o.Version, " _/") || o.Version == "" {
		return nil, fmt.Errorf("version %q: no spaces, '_' or '/'", o.Version)
	}
	files := payload(o.Bin)
	for i, f := range files {
		p := f.src
		if !filepath.IsAbs(p) {
			p = filepath.Join(o.Root, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files[i].data = data
	}
	data, err := tarball(files, o.MTime, true)
	if err != nil {
		return nil, err
	}
	postinstPkg, err := os.ReadFile(filepath.Join(o.Root, "files/mcast-proxy.postinst-pkg"))
	if err != nil {
		return nil, err
	}
	control := fmt.Sprintf(`Package: %s
Version: %s
Depends: libc
Source: feeds/mcastproxy/mcast-proxy
SourceName: mcast-proxy
License: ISC
Section: net
URL: https://github.com/mcast-proxy/mcast-proxy
Require-User: mcast-proxy:mcast-proxy
Architecture: %s
Installed-Size: %d
Description:  IGMP/MLD multicast proxy (RFC 4605) for IPTV behind a router. It reads
 /etc/config/mcast-proxy itself, follows netifd networks through PPPoE
 reconnects without restarting, answers 'ubus call mcast-proxy status',
 and runs as its own user with only CAP_NET_ADMIN and CAP_NET_RAW.
`, Name, o.Version, o.Arch, data.size)
	ctl, err := tarball([]file{
		{dest: "/control", mode: 0o644, data: []byte(control)},
		{dest: "/conffiles", mode: 0o644, data: []byte(strings.Join(conffiles, "\n") + "\n")},
		{dest: "/postinst", mode: 0o755, data: []byte(postinst)},
		{dest: "/postinst-pkg", mode: 0o755, data: postinstPkg},
		{dest: "/prerm", mode: 0o755, data: []byte(prerm)},
	}, o.MTime, true)
	if err != nil {
		return nil, err
	}
	outer, err := tarball([]file{
		{dest: "/debian-binary", mode: 0o644, data: []byte("2.0\n")},
		{dest: "/data.tar.gz", mode: 0o644, data: data.gz},
		{dest: "/control.tar.gz", mode: 0o644, data: ctl.gz},
	}, o.MTime, false)
	if err != nil {
		return nil, err
	}
	return outer.gz, nil
}

// archive is a gzipped tar and the size of the tar inside.
type archive struct {
	gz   []byte
	size int64
}

// tarball writes files under "./", owned by root, as ipkg-build does: with
// their parent directories and in name order when dirs is set, else just
// the files in the order given (the outer archive).
func tarball(files []file, mtime time.Time, dirs bool) (archive, error) {
	type entry struct {
		name string
		hdr  *tar.Header
		data []byte
	}
	var entries []entry
	if dirs {
		seen := map[string]bool{}
		for _, f := range files {
			for d := path.Dir(f.dest); d != "/"; d = path.Dir(d) {
				seen[d] = true
			}
		}
		entries = append(entries, entry{name: "./", hdr: &tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}})
		for d := range seen {
			entries = append(entries, entry{name: "." + d + "/", hdr: &tar.Header{Typeflag: tar.TypeDir, Name: "." + d + "/", Mode: 0o755}})
		}
	}
	for _, f := range files {
		entries = append(entries, entry{name: "." + f.dest, data: f.data,
			hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "." + f.dest, Mode: f.mode, Size: int64(len(f.data))}})
	}
	if dirs {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	}
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		e.hdr.ModTime = mtime
		e.hdr.Format = tar.FormatGNU
		e.hdr.Uname, e.hdr.Gname = "root", "root"
		if err := tw.WriteHeader(e.hdr); err != nil {
			return archive{}, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return archive{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return archive{}, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return archive{}, err
	}
	zw.ModTime = mtime
	if _, err := io.Copy(zw, bytes.NewReader(raw.Bytes())); err != nil {
		return archive{}, err
	}
	if err := zw.Close(); err != nil {
		return archive{}, err
	}
	return archive{gz: gz.Bytes(), size: int64(raw.Len())}, nil
}
