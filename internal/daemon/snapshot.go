package daemon

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// The state snapshot keeps the memberships and forwarding entries of the
// daemon in its runtime directory, so that a restarted daemon forwards at
// once instead of waiting for every host to answer a query. The format is
// our own, version 1, all integers big-endian:
//
//	magic "MCPS"                        4
//	version (1)                         1
//	flags: bit 0 written by a clean stop 1
//	reserved (0)                        2
//	boot id (kernel random/boot_id)     16
//	written: CLOCK_BOOTTIME, ns          8
//	planes                              1   (0..2)
//	  family (4 or 6)                   1
//	  links                             2
//	    name length (1..15), name
//	    groups                          4
//	      group address                 4 or 16 by family
//	      mode (1 INCLUDE, 2 EXCLUDE)   1
//	      compatibility mode (1..3)     1
//	      group timer left, ms          4
//	      sources                       4
//	        source address              4 or 16
//	        source timer left, ms       4   (0: excluded, EXCLUDE mode)
//	  flows                             4
//	    source address, group address   4 or 16 each
//	    input name length (1..15), name
//	CRC-32C of all that precedes        4
//
// A file is at most snapshotMax bytes: the encoder leaves out what does
// not fit, and the decoder refuses anything longer.
const (
	snapshotMagic   = "MCPS"
	snapshotVersion = 1
	snapshotMax     = 256 << 10
	snapshotHeader  = 4 + 1 + 1 + 2 + 16 + 8 + 1
	snapshotTrailer = 4
	flagClean       = 1
	modeInclude     = 1
	modeExclude     = 2
	maxIfName       = 15 // IFNAMSIZ less the terminating NUL
	maxTimerMillis  = 1<<32 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// savedState is the decoded state file.
type savedState struct {
	clean   bool
	bootID  [16]byte
	written time.Duration // CLOCK_BOOTTIME when it was written
	planes  []snapPlane
}

type snapPlane struct {
	v6    bool
	links []snapLink
	flows []snapFlow
}

type snapLink struct {
	name   string
	groups []membership.Saved
}

type snapFlow struct {
	source, group netip.Addr
	input         string
}

// errSnapshot marks a file that is not a valid snapshot.
var errSnapshot = errors.New("not a valid state snapshot")

// encodeSnapshot appends the file for s to buf and returns it, with the
// number of groups and flows left out because the file would pass
// snapshotMax. Addresses of the wrong family and names too long are left
// out as well; the daemon never produces them.
func encodeSnapshot(buf []byte, s *savedState) ([]byte, int) {
	b := append(buf[:0], snapshotMagic...)
	flags := byte(0)
	if s.clean {
		flags |= flagClean
	}
	b = append(b, snapshotVersion, flags, 0, 0)
	b = append(b, s.bootID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.written))
	b = append(b, byte(min(len(s.planes), 2)))
	left := 0
	room := func(n int) bool { return len(b)+n+snapshotTrailer <= snapshotMax }
	for _, p := range s.planes[:min(len(s.planes), 2)] {
		alen, fam := 4, byte(4)
		if p.v6 {
			alen, fam = 16, 6
		}
		b = append(b, fam)
		nl := len(b)
		b = append(b, 0, 0)
		links := 0
		for _, l := range p.links {
			if len(l.name) == 0 || len(l.name) > maxIfName || links == 0xffff || !room(1+len(l.name)+4) {
				left += len(l.groups)
				continue
			}
			links++
			b = append(b, byte(len(l.name)))
			b = append(b, l.name...)
			ng := len(b)
			b = append(b, 0, 0, 0, 0)
			groups := 0
			for _, g := range l.groups {
				size := alen + 1 + 1 + 4 + 4 + len(g.Sources)*(alen+4)
				if !fits(g.Group, p.v6) || !room(size) {
					left++
					continue
				}
				groups++
				b = appendAddr(b, g.Group)
				mode := byte(modeInclude)
				if g.Mode == membership.Exclude {
					mode = modeExclude
				}
				b = append(b, mode, byte(g.Compat))
				b = binary.BigEndian.AppendUint32(b, millis(g.Timer))
				ns := len(b)
				b = append(b, 0, 0, 0, 0)
				n := 0
				for _, src := range g.Sources {
					if fits(src.Addr, p.v6) {
						b = appendAddr(b, src.Addr)
						b = binary.BigEndian.AppendUint32(b, millis(src.Timer))
						n++
					}
				}
				binary.BigEndian.PutUint32(b[ns:], uint32(n))
			}
			binary.BigEndian.PutUint32(b[ng:], uint32(groups))
		}
		binary.BigEndian.PutUint16(b[nl:], uint16(links))
		nf := len(b)
		b = append(b, 0, 0, 0, 0)
		flows := 0
		for _, f := range p.flows {
			if !fits(f.source, p.v6) || !fits(f.group, p.v6) || len(f.input) == 0 || len(f.input) > maxIfName || !room(2*alen+1+len(f.input)) {
				left++
				continue
			}
			flows++
			b = appendAddr(b, f.source)
			b = appendAddr(b, f.group)
			b = append(b, byte(len(f.input)))
			b = append(b, f.input...)
		}
		binary.BigEndian.PutUint32(b[nf:], uint32(flows))
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b, left
}

// fits reports whether a is an address of the plane's family.
func fits(a netip.Addr, v6 bool) bool { return a.IsValid() && a.Is6() == v6 }

func appendAddr(b []byte, a netip.Addr) []byte { return append(b, a.AsSlice()...) }

// millis is d in whole milliseconds for the file; a timer that still runs
// never becomes zero, which would mean "excluded".
func millis(d time.Duration) uint32 {
	switch {
	case d <= 0:
		return 0
	case d < time.Millisecond:
		return 1
	case d/time.Millisecond >= maxTimerMillis:
		return maxTimerMillis
	}
	return uint32(d / time.Millisecond)
}

// decodeSnapshot parses a state file. It checks the length, checksum,
// version and every count against what is left before it reads, fills
// nothing on error, and never panics.
func decodeSnapshot(b []byte) (*savedState, error) {
	if len(b) > snapshotMax {
		return nil, format.Errorf("%w: %d bytes, more than %d", errSnapshot, len(b), snapshotMax)
	}
	if len(b) < snapshotHeader+snapshotTrailer {
		return nil, format.Errorf("%w: %d bytes, too short", errSnapshot, len(b))
	}
	if string(b[:4]) != snapshotMagic {
		return nil, format.Errorf("%w: bad magic", errSnapshot)
	}
	if b[4] != snapshotVersion {
		return nil, format.Errorf("%w: version %d, want %d", errSnapshot, b[4], snapshotVersion)
	}
	body, sum := b[:len(b)-snapshotTrailer], binary.BigEndian.Uint32(b[len(b)-snapshotTrailer:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, format.Errorf("%w: checksum mismatch", errSnapshot)
	}
	if b[5]&^flagClean != 0 || b[6] != 0 || b[7] != 0 {
		return nil, format.Errorf("%w: unknown flags", errSnapshot)
	}
	s := &savedState{clean: b[5]&flagClean != 0}
	copy(s.bootID[:], b[8:24])
	w := binary.BigEndian.Uint64(b[24:32])
	if w > 1<<63-1 {
		return nil, format.Errorf("%w: bad time", errSnapshot)
	}
	s.written = time.Duration(w)
	r := reader{b: body[32:]}
	np := int(r.u8())
	if np > 2 {
		return nil, format.Errorf("%w: %d planes", errSnapshot, np)
	}
	seen := map[bool]bool{}
	for range np {
		var p snapPlane
		switch r.u8() {
		case 4:
		case 6:
			p.v6 = true
		default:
			return nil, format.Errorf("%w: bad family", errSnapshot)
		}
		if seen[p.v6] {
			return nil, format.Errorf("%w: family twice", errSnapshot)
		}
		seen[p.v6] = true
		alen := 4
		if p.v6 {
			alen = 16
		}
		nl := int(r.u16())
		if !r.holds(nl, 1+1+4) {
			return nil, format.Errorf("%w: truncated", errSnapshot)
		}
		p.links = make([]snapLink, 0, nl)
		for range nl {
			l := snapLink{name: r.name()}
			ng := int(r.u32())
			if !r.holds(ng, alen+1+1+4+4) {
				return nil, format.Errorf("%w: truncated", errSnapshot)
			}
			l.groups = make([]membership.Saved, 0, ng)
			for range ng {
				g := membership.Saved{Group: r.addr(alen)}
				mode := r.u8()
				g.Compat, g.Timer = int(r.u8()), time.Duration(r.u32())*time.Millisecond
				if mode == modeExclude {
					g.Mode = membership.Exclude
				}
				if mode != modeInclude && mode != modeExclude || g.Compat < 1 || g.Compat > 3 {
					return nil, format.Errorf("%w: bad group record", errSnapshot)
				}
				n := int(r.u32())
				if !r.holds(n, alen+4) {
					return nil, format.Errorf("%w: truncated", errSnapshot)
				}
				if n > 0 {
					g.Sources = make([]membership.SavedSource, n)
				}
				for i := range g.Sources {
					g.Sources[i] = membership.SavedSource{Addr: r.addr(alen), Timer: time.Duration(r.u32()) * time.Millisecond}
				}
				l.groups = append(l.groups, g)
			}
			p.links = append(p.links, l)
		}
		nf := int(r.u32())
		if !r.holds(nf, 2*alen+1+1) {
			return nil, format.Errorf("%w: truncated", errSnapshot)
		}
		p.flows = make([]snapFlow, 0, nf)
		for range nf {
			p.flows = append(p.flows, snapFlow{source: r.addr(alen), group: r.addr(alen), input: r.name()})
		}
		s.planes = append(s.planes, p)
	}
	if r.bad || len(r.b) != 0 {
		return nil, format.Errorf("%w: truncated or trailing bytes", errSnapshot)
	}
	return s, nil
}

// reader reads the body; a read past the end or an invalid name marks it
// bad and returns zero values, checked once at the end.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }

// holds reports whether n elements of at least size bytes each can be left
// in the body: counts are checked before anything is allocated for them.
func (r *reader) holds(n, size int) bool {
	return !r.bad && n <= len(r.b)/size
}

func (r *reader) addr(n int) netip.Addr {
	a, _ := netip.AddrFromSlice(r.take(n))
	return a
}

func (r *reader) name() string {
	n := int(r.u8())
	if n == 0 || n > maxIfName {
		r.bad = true
		return ""
	}
	return string(r.take(n))
}
