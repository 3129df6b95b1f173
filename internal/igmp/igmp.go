// Package igmp encodes and decodes IGMPv1, IGMPv2 and IGMPv3 messages
// (RFC 1112 appendix I, RFC 2236 §2, RFC 3376 §4).
//
// The codecs are strict and total: Parse checks every length before reading,
// verifies the checksum over the whole payload and returns a message only when
// all of it parsed; Marshal refuses messages that cannot be sent as given.
package igmp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Type is the IGMP message type, the first byte of every message.
type Type uint8

// Message types (RFC 3376 §4, RFC 2236 §2.1, RFC 1112 appendix I).
const (
	TypeQuery    Type = 0x11 // membership query, all versions
	TypeV1Report Type = 0x12
	TypeV2Report Type = 0x16
	TypeV2Leave  Type = 0x17
	TypeV3Report Type = 0x22
)

// RecordType is the type of an IGMPv3 group record (RFC 3376 §4.2.12).
// The numbers are the same as those of MLDv2 (RFC 3810 §5.2.12).
type RecordType uint8

// Group record types (RFC 3376 §4.2.12).
const (
	ModeIsInclude   RecordType = 1 // current state: INCLUDE
	ModeIsExclude   RecordType = 2 // current state: EXCLUDE
	ChangeToInclude RecordType = 3 // filter mode changed to INCLUDE
	ChangeToExclude RecordType = 4 // filter mode changed to EXCLUDE
	AllowNewSources RecordType = 5 // source list grew
	BlockOldSources RecordType = 6 // source list shrank
)

// known reports whether t is one of the six record types RFC 3376 defines.
func (t RecordType) known() bool { return t >= ModeIsInclude && t <= BlockOldSources }

// Errors returned by Parse and Marshal, always wrapped with detail; compare
// with errors.Is so that dropped packets can be counted by reason.
var (
	ErrTruncated   = errors.New("igmp: truncated")
	ErrChecksum    = errors.New("igmp: bad checksum")
	ErrMalformed   = errors.New("igmp: malformed")
	ErrUnknownType = errors.New("igmp: unknown message type")
)

const (
	headerLen       = 8  // type, code, checksum, group (or reserved + count in a v3 report)
	v3QueryMinLen   = 12 // RFC 3376 §7.1: a query of 12 bytes or more is IGMPv3
	recordHeaderLen = 8  // record type, aux data len, number of sources, group
	maxV2MaxResp    = 255 * MaxRespUnit
)

// Message is one parsed IGMP message: *Query, *Report, *Leave or *V3Report.
type Message interface {
	// Marshal returns the wire bytes with the checksum filled in.
	Marshal() ([]byte, error)
}

// Query is a membership query of any version.
type Query struct {
	// Version is 1, 2 or 3, decided from the length and the Max Resp Code as
	// RFC 3376 §7.1 prescribes.
	Version int
	// MaxResp is the decoded Max Resp Code: units of 1/10 s in v2, a float
	// code in v3 (RFC 3376 §4.1.1); always 0 in v1.
	MaxResp time.Duration
	// Group is 0.0.0.0 in a general query, else the group being queried.
	Group netip.Addr
	// SuppressRouterSide is the S flag (RFC 3376 §4.1.5), v3 only.
	SuppressRouterSide bool
	// QRV is the querier's robustness variable (RFC 3376 §4.1.6), v3 only.
	QRV uint8
	// QQI is the decoded QQIC (RFC 3376 §4.1.7), v3 only.
	QQI time.Duration
	// Sources lists the sources of a group-and-source-specific query, v3 only.
	Sources []netip.Addr
}

// Report is an IGMPv1 or IGMPv2 membership report.
type Report struct {
	Version int // 1 or 2
	Group   netip.Addr
}

// Leave is an IGMPv2 leave group message (RFC 2236 §2.1).
type Leave struct {
	Group netip.Addr
}

// V3Report is an IGMPv3 membership report (RFC 3376 §4.2).
type V3Report struct {
	// Skipped counts records dropped because their group is not a
	// multicast address: one broken record costs only itself, the
	// others still count.
	Skipped int
	Records []GroupRecord
}

// GroupRecord is one group record of an IGMPv3 report (RFC 3376 §4.2.4).
type GroupRecord struct {
	Type    RecordType
	Group   netip.Addr
	Sources []netip.Addr
	// AuxData is kept for completeness; RFC 3376 §4.2.6 defines none and
	// tells receivers to ignore it. Its length is a multiple of 4.
	AuxData []byte
}

// Parse decodes one IGMP message. b is the IGMP message only, without the IP
// header. The checksum is verified over all of b. The result never aliases b.
func Parse(b []byte) (Message, error) { return parse(b, nil) }

// A Decoder parses messages as Parse does, but returns its reports in
// storage of its own that the next call reuses: on a router's report path
// a report costs no allocation. What Parse returns, the source lists of a
// report's records included, is valid until the next call: a caller that
// keeps a list must copy it. The zero value is ready to use.
type Decoder struct {
	report  Report
	leave   Leave
	v3      V3Report
	records []GroupRecord // the last report's records, whose room the next one reuses
	sources SourceRoom    // the last report's source lists, likewise
}

// KeptSources is the most source addresses a SourceRoom keeps: every report
// that fits in a 1500-byte frame (365 IGMPv3 sources, 89 MLDv2 ones), and
// more. A report that needs more (fragmented, or a jumbo frame) gets room
// of its own, so that one such packet does not pin its size in memory.
const KeptSources = 1024

// SourceRoom is the room a decoder keeps for the source lists of a report,
// which the next report reuses. The zero value is ready to use; a nil
// SourceRoom keeps nothing.
type SourceRoom struct{ addrs []netip.Addr }

// Take returns room for n addresses, valid until the next Take.
func (r *SourceRoom) Take(n int) []netip.Addr {
	if r == nil || n > KeptSources {
		return make([]netip.Addr, n)
	}
	if cap(r.addrs) < n {
		r.addrs = make([]netip.Addr, n, max(n, min(2*cap(r.addrs), KeptSources)))
	}
	return r.addrs[:n]
}

// Kept is how many addresses r keeps room for.
func (r *SourceRoom) Kept() int { return cap(r.addrs) }

// Parse decodes one IGMP message as the package's Parse does.
func (d *Decoder) Parse(b []byte) (Message, error) { return parse(b, d) }

// parse decodes into d's storage, or into new values if d is nil.
func parse(b []byte, d *Decoder) (Message, error) {
	if len(b) < headerLen {
		return nil, format.Errorf("%w: %d bytes, need %d", ErrTruncated, len(b), headerLen)
	}
	// RFC 2236 §2.3, RFC 3376 §4.1.2: the checksum covers the whole IP
	// payload, including any bytes past what the message type needs.
	if Checksum(b) != 0 {
		return nil, format.Errorf("%w: 0x%04x", ErrChecksum, binary.BigEndian.Uint16(b[2:4]))
	}
	switch t := Type(b[0]); t {
	case TypeQuery:
		// Return nil, not a typed nil pointer, so that callers can test
		// the message against nil.
		q, err := parseQuery(b)
		if err != nil {
			return nil, err
		}
		return q, nil
	case TypeV1Report, TypeV2Report:
		// RFC 2236 §2.5: ignore anything past the first 8 bytes.
		g, err := multicastGroup(b[4:8])
		if err != nil {
			return nil, format.Errorf("%w: report: %w", ErrMalformed, err)
		}
		v := 2
		if t == TypeV1Report {
			v = 1
		}
		if d != nil {
			d.report = Report{Version: v, Group: g}
			return &d.report, nil
		}
		return &Report{Version: v, Group: g}, nil
	case TypeV2Leave:
		g, err := multicastGroup(b[4:8])
		if err != nil {
			return nil, format.Errorf("%w: leave: %w", ErrMalformed, err)
		}
		if d != nil {
			d.leave = Leave{Group: g}
			return &d.leave, nil
		}
		return &Leave{Group: g}, nil
	case TypeV3Report:
		r, err := parseV3Report(b, d)
		if err != nil {
			return nil, err
		}
		return r, nil
	default:
		return nil, format.Errorf("%w: 0x%02x", ErrUnknownType, b[0])
	}
}

func parseQuery(b []byte) (*Query, error) {
	code := b[1]
	switch {
	case len(b) == headerLen && code == 0:
		// RFC 3376 §7.1: an 8-byte query with code 0 is IGMPv1; RFC 1112
		// says its group field is ignored on receipt.
		return &Query{Version: 1, Group: netip.IPv4Unspecified()}, nil
	case len(b) < v3QueryMinLen && len(b) != headerLen:
		// RFC 3376 §7.1: queries of other lengths must be ignored.
		return nil, format.Errorf("%w: query of %d bytes", ErrMalformed, len(b))
	}
	g := netip.AddrFrom4([4]byte(b[4:8]))
	if !g.IsUnspecified() && !g.IsMulticast() {
		return nil, format.Errorf("%w: query for non-multicast group %s", ErrMalformed, g)
	}
	if len(b) == headerLen {
		return &Query{Version: 2, MaxResp: time.Duration(code) * MaxRespUnit, Group: g}, nil
	}
	n := int(binary.BigEndian.Uint16(b[10:12]))
	if need := v3QueryMinLen + 4*n; len(b) < need {
		return nil, format.Errorf("%w: v3 query with %d sources needs %d bytes, have %d", ErrTruncated, n, need, len(b))
	}
	// RFC 3376 §4.1.8: general queries carry no sources.
	if g.IsUnspecified() && n > 0 {
		return nil, format.Errorf("%w: general query with %d sources", ErrMalformed, n)
	}
	q := &Query{
		Version:            3,
		MaxResp:            DecodeMaxResp(code),
		Group:              g,
		SuppressRouterSide: b[8]&0x08 != 0, // RFC 3376 §4.1.4: the 4 high bits are reserved and ignored
		QRV:                b[8] & 0x07,
		QQI:                DecodeQQI(b[9]),
	}
	if n > 0 {
		q.Sources = make([]netip.Addr, n)
		for i := range q.Sources {
			q.Sources[i] = netip.AddrFrom4([4]byte(b[v3QueryMinLen+4*i:]))
		}
	}
	// RFC 3376 §7.1: bytes after the sources are ignored.
	return q, nil
}

func parseV3Report(b []byte, d *Decoder) (*V3Report, error) {
	nrec := int(binary.BigEndian.Uint16(b[6:8]))
	// First pass: check that every record fits and count what to allocate,
	// so no allocation is sized by a count before its bytes are known to be
	// there.
	off, known, nsrc, skipped := headerLen, 0, 0, 0
	for i := range nrec {
		if len(b)-off < recordHeaderLen {
			return nil, format.Errorf("%w: v3 report record %d of %d at offset %d", ErrTruncated, i+1, nrec, off)
		}
		rt := RecordType(b[off])
		size := recordHeaderLen + 4*int(binary.BigEndian.Uint16(b[off+2:off+4])) + 4*int(b[off+1])
		if len(b)-off < size {
			return nil, format.Errorf("%w: v3 report record %d needs %d bytes at offset %d, have %d", ErrTruncated, i+1, size, off, len(b)-off)
		}
		// RFC 3376 §4.2.12: records of unknown type are ignored, the rest of
		// the report still counts.
		if rt.known() {
			if _, err := multicastGroup(b[off+4 : off+8]); err != nil {
				skipped++
			} else {
				known++
				nsrc += int(binary.BigEndian.Uint16(b[off+2 : off+4]))
			}
		}
		off += size
	}
	// RFC 3376 §4.2: bytes after the last record are not part of the report.
	var r *V3Report
	if d != nil {
		// Past the last report's records the room is still zero.
		clear(d.records) // holds no earlier report's sources
		d.records = d.records[:0]
		d.v3 = V3Report{Skipped: skipped}
		r = &d.v3
	} else {
		r = &V3Report{Skipped: skipped}
	}
	if known == 0 {
		return r, nil
	}
	if d != nil && cap(d.records) >= known {
		r.Records = d.records[:0]
	} else {
		r.Records = make([]GroupRecord, 0, known)
	}
	var room *SourceRoom
	if d != nil {
		room = &d.sources
	}
	srcs := room.Take(nsrc)
	off = headerLen
	for range nrec {
		rt := RecordType(b[off])
		aux := 4 * int(b[off+1])
		n := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		next := off + recordHeaderLen + 4*n + aux
		if !rt.known() || !netip.AddrFrom4([4]byte(b[off+4:off+8])).IsMulticast() {
			off = next
			continue
		}
		rec := GroupRecord{Type: rt, Group: netip.AddrFrom4([4]byte(b[off+4 : off+8]))}
		if n > 0 {
			// Full slice expression: an append by the caller must not run
			// into the next record's sources.
			rec.Sources, srcs = srcs[:n:n], srcs[n:]
			for i := range rec.Sources {
				rec.Sources[i] = netip.AddrFrom4([4]byte(b[off+recordHeaderLen+4*i:]))
			}
		}
		if aux > 0 {
			rec.AuxData = append([]byte(nil), b[next-aux:next]...)
		}
		r.Records = append(r.Records, rec)
		off = next
	}
	if d != nil {
		d.records = r.Records
	}
	return r, nil
}

// multicastGroup reads a 4-byte group address that must be IPv4 multicast.
func multicastGroup(b []byte) (netip.Addr, error) {
	g := netip.AddrFrom4([4]byte(b))
	if !g.IsMulticast() {
		return netip.Addr{}, format.Errorf("group %s is not multicast", g)
	}
	return g, nil
}

// Marshal encodes the query for the version in q.Version. Fields that the
// version does not carry must be zero, so that nothing silently disappears.
func (q *Query) Marshal() ([]byte, error) {
	if !q.Group.Is4() || (!q.Group.IsUnspecified() && !q.Group.IsMulticast()) {
		return nil, format.Errorf("%w: query group %s is neither 0.0.0.0 nor IPv4 multicast", ErrMalformed, q.Group)
	}
	if q.Version != 3 && (q.SuppressRouterSide || q.QRV != 0 || q.QQI != 0 || len(q.Sources) > 0) {
		return nil, format.Errorf("%w: v%d query with IGMPv3 fields set", ErrMalformed, q.Version)
	}
	var b []byte
	switch q.Version {
	case 1:
		// RFC 1112 appendix I: the group is zero, the unused code byte is 0.
		if q.MaxResp != 0 || !q.Group.IsUnspecified() {
			return nil, format.Errorf("%w: v1 query needs group 0.0.0.0 and no max response time", ErrMalformed)
		}
		b = make([]byte, headerLen)
	case 2:
		// RFC 2236 §2.2: a v2 query needs a non-zero code, else it reads as v1.
		if q.MaxResp < MaxRespUnit || q.MaxResp > maxV2MaxResp {
			return nil, format.Errorf("%w: v2 query max response time %v outside [%v, %v]", ErrMalformed, q.MaxResp, MaxRespUnit, maxV2MaxResp)
		}
		b = make([]byte, headerLen)
		b[1] = uint8(q.MaxResp / MaxRespUnit)
	case 3:
		if q.QRV > 7 {
			return nil, format.Errorf("%w: QRV %d does not fit in 3 bits", ErrMalformed, q.QRV)
		}
		if len(q.Sources) > 0xffff {
			return nil, format.Errorf("%w: %d sources do not fit in the count", ErrMalformed, len(q.Sources))
		}
		if q.Group.IsUnspecified() && len(q.Sources) > 0 {
			return nil, format.Errorf("%w: general query with sources", ErrMalformed)
		}
		b = make([]byte, v3QueryMinLen+4*len(q.Sources))
		b[1] = EncodeMaxResp(q.MaxResp)
		if q.SuppressRouterSide {
			b[8] = 0x08
		}
		b[8] |= q.QRV
		b[9] = EncodeQQI(q.QQI)
		// The count must match the sources sent: a group-and-source query
		// with a count of zero is a general group query to every host.
		binary.BigEndian.PutUint16(b[10:12], uint16(len(q.Sources)))
		for i, s := range q.Sources {
			if !s.Is4() {
				return nil, format.Errorf("%w: query source %s is not IPv4", ErrMalformed, s)
			}
			a := s.As4()
			copy(b[v3QueryMinLen+4*i:], a[:])
		}
	default:
		return nil, format.Errorf("%w: query version %d", ErrMalformed, q.Version)
	}
	b[0] = byte(TypeQuery)
	g := q.Group.As4()
	copy(b[4:8], g[:])
	putChecksum(b)
	return b, nil
}

// Marshal encodes a v1 or v2 report.
func (r *Report) Marshal() ([]byte, error) {
	var t Type
	switch r.Version {
	case 1:
		t = TypeV1Report
	case 2:
		t = TypeV2Report
	default:
		return nil, format.Errorf("%w: report version %d", ErrMalformed, r.Version)
	}
	return marshalGroupMessage(t, r.Group)
}

// Marshal encodes a v2 leave.
func (l *Leave) Marshal() ([]byte, error) { return marshalGroupMessage(TypeV2Leave, l.Group) }

// marshalGroupMessage builds the 8-byte v1/v2 report or leave layout.
func marshalGroupMessage(t Type, group netip.Addr) ([]byte, error) {
	if !group.Is4() || !group.IsMulticast() {
		return nil, format.Errorf("%w: group %s is not IPv4 multicast", ErrMalformed, group)
	}
	b := make([]byte, headerLen)
	b[0] = byte(t)
	g := group.As4()
	copy(b[4:8], g[:])
	putChecksum(b)
	return b, nil
}

// Marshal encodes a v3 report. Records of unknown type are refused: a sender
// has no business inventing them.
func (r *V3Report) Marshal() ([]byte, error) {
	if len(r.Records) > 0xffff {
		return nil, format.Errorf("%w: %d records do not fit in the count", ErrMalformed, len(r.Records))
	}
	size := headerLen
	for i, rec := range r.Records {
		switch {
		case !rec.Type.known():
			return nil, format.Errorf("%w: record %d has unknown type %d", ErrMalformed, i+1, int(rec.Type))
		case !rec.Group.Is4() || !rec.Group.IsMulticast():
			return nil, format.Errorf("%w: record %d group %s is not IPv4 multicast", ErrMalformed, i+1, rec.Group)
		case len(rec.Sources) > 0xffff:
			return nil, format.Errorf("%w: record %d has %d sources", ErrMalformed, i+1, len(rec.Sources))
		case len(rec.AuxData)%4 != 0 || len(rec.AuxData) > 4*0xff:
			return nil, format.Errorf("%w: record %d aux data of %d bytes is not a count of 32-bit words below 256", ErrMalformed, i+1, len(rec.AuxData))
		}
		size += recordHeaderLen + 4*len(rec.Sources) + len(rec.AuxData)
	}
	b := make([]byte, size)
	b[0] = byte(TypeV3Report)
	binary.BigEndian.PutUint16(b[6:8], uint16(len(r.Records)))
	off := headerLen
	for i, rec := range r.Records {
		b[off] = byte(rec.Type)
		b[off+1] = uint8(len(rec.AuxData) / 4)
		binary.BigEndian.PutUint16(b[off+2:off+4], uint16(len(rec.Sources)))
		g := rec.Group.As4()
		copy(b[off+4:off+8], g[:])
		off += recordHeaderLen
		for _, s := range rec.Sources {
			if !s.Is4() {
				return nil, format.Errorf("%w: record %d source %s is not IPv4", ErrMalformed, i+1, s)
			}
			a := s.As4()
			copy(b[off:off+4], a[:])
			off += 4
		}
		off += copy(b[off:], rec.AuxData)
	}
	putChecksum(b)
	return b, nil
}

// Checksum returns the Internet checksum of b (RFC 1071): the ones'
// complement of the ones' complement sum of b as big-endian 16-bit words,
// an odd last byte padded with zero. Over a message whose checksum field is
// correct it returns 0.
func Checksum(b []byte) uint16 {
	return ^Fold(Sum(0, b))
}

// Sum adds b to sum as big-endian 16-bit words, an odd last byte padded
// with zero, for a checksum over several pieces (only the last may be odd
// in length); Fold reduces it to the ones' complement sum.
//
// It adds 32-bit words, two at a time: as 2^16 is 1 modulo 0xffff, a
// 32-bit word counts as the sum of its two halves, so the end-around-carry
// sum is the same. Each report is summed before it is read: word by word
// took three times as long on amd64 and on 32-bit x86 (BenchmarkChecksum).
// A uint64 takes 2^32 words before it can overflow.
func Sum(sum uint64, b []byte) uint64 {
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	if len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// Fold reduces a Sum to 16 bits with end-around carries.
func Fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// putChecksum fills the checksum field of a message whose field is still zero.
func putChecksum(b []byte) {
	binary.BigEndian.PutUint16(b[2:4], Checksum(b))
}
