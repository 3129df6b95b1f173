// Package mld encodes and decodes MLDv1 and MLDv2 messages (RFC 2710 §3,
// RFC 3810 §5), the ICMPv6 payloads that carry IPv6 multicast membership.
//
// The codecs are strict and total: Parse checks every length before reading
// and returns a message only when all of it parsed; Marshal refuses messages
// that cannot be sent as given.
//
// Unlike IGMP, the checksum is left to the kernel. The ICMPv6 checksum covers
// a pseudo-header with the IPv6 source and destination (RFC 4443 §2.3), which
// a raw socket does not hand over with the payload, and on a raw ICMPv6 socket
// Linux always verifies it on receipt (dropping bad messages) and computes it
// on send (RFC 3542 §3.1). So Parse does not look at the checksum field and
// Marshal leaves it zero. Checksum and MarshalWithChecksum are for messages
// that bypass the socket: packet captures and tests.
package mld

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
)

// Type is the ICMPv6 message type, the first byte of every MLD message.
type Type uint8

// Message types (RFC 2710 §3, RFC 3810 §5).
const (
	TypeQuery    Type = 130 // multicast listener query, v1 and v2
	TypeV1Report Type = 131
	TypeV1Done   Type = 132
	TypeV2Report Type = 143
)

// RecordType is the type of an MLDv2 multicast address record
// (RFC 3810 §5.2.12). MLDv2 numbers its records exactly as IGMPv3 numbers
// its group records, so the type is IGMP's.
type RecordType = igmp.RecordType

// Multicast address record types (RFC 3810 §5.2.12).
const (
	ModeIsInclude   = igmp.ModeIsInclude   // current state: INCLUDE
	ModeIsExclude   = igmp.ModeIsExclude   // current state: EXCLUDE
	ChangeToInclude = igmp.ChangeToInclude // filter mode changed to INCLUDE
	ChangeToExclude = igmp.ChangeToExclude // filter mode changed to EXCLUDE
	AllowNewSources = igmp.AllowNewSources // source list grew
	BlockOldSources = igmp.BlockOldSources // source list shrank
)

// knownRecord reports whether t is one of the six record types RFC 3810 defines.
func knownRecord(t RecordType) bool { return t >= ModeIsInclude && t <= BlockOldSources }

// Errors returned by Parse and Marshal, always wrapped with detail; compare
// with errors.Is so that dropped packets can be counted by reason.
var (
	ErrTruncated   = errors.New("mld: truncated")
	ErrMalformed   = errors.New("mld: malformed")
	ErrUnknownType = errors.New("mld: unknown message type")
)

const (
	headerLen         = 4  // type, code, checksum: enough to tell what follows
	v1Len             = 24 // RFC 2710 §3: every MLDv1 message
	v2QueryMinLen     = 28 // RFC 3810 §8.1: a query of 28 octets or more is MLDv2
	v2ReportHeaderLen = 8  // type, reserved, checksum, reserved, record count
	recordHeaderLen   = 20 // record type, aux data len, number of sources, address
	addrLen           = 16
	maxV1MaxResp      = 0xffff * time.Millisecond // RFC 2710 §3.4: 16 bits of milliseconds
	nextHeaderICMPv6  = 58
)

// Message is one parsed MLD message: *Query, *Report, *Done or *V2Report.
type Message interface {
	// Marshal returns the wire bytes with the checksum field left 0: the
	// kernel fills it in on a raw ICMPv6 socket.
	Marshal() ([]byte, error)
}

// Query is a multicast listener query of either version.
type Query struct {
	// Version is 1 or 2, decided from the length as RFC 3810 §8.1 says.
	Version int
	// MaxResp is the Maximum Response Delay: plain milliseconds in v1
	// (RFC 2710 §3.4), the decoded float code in v2 (RFC 3810 §5.1.3).
	MaxResp time.Duration
	// Group is :: in a general query, else the address being queried.
	Group netip.Addr
	// SuppressRouterSide is the S flag (RFC 3810 §5.1.7), v2 only.
	SuppressRouterSide bool
	// QRV is the querier's robustness variable (RFC 3810 §5.1.8), v2 only.
	QRV uint8
	// QQI is the decoded QQIC (RFC 3810 §5.1.9), v2 only.
	QQI time.Duration
	// Sources lists the sources of a multicast address and source specific
	// query, v2 only.
	Sources []netip.Addr
}

// Report is an MLDv1 multicast listener report (RFC 2710 §3).
type Report struct {
	Group netip.Addr
}

// Done is an MLDv1 multicast listener done (RFC 2710 §3).
type Done struct {
	Group netip.Addr
}

// V2Report is an MLDv2 multicast listener report (RFC 3810 §5.2).
type V2Report struct {
	// Skipped counts records dropped because their group is not a
	// multicast address: one broken record costs only itself, the
	// others still count.
	Skipped int
	Records []AddressRecord
}

// AddressRecord is one multicast address record of an MLDv2 report
// (RFC 3810 §5.2.4).
type AddressRecord struct {
	Type    RecordType
	Group   netip.Addr
	Sources []netip.Addr
	// AuxData is kept for completeness; RFC 3810 §5.2.10 defines none and
	// tells receivers to ignore it. Its length is a multiple of 4.
	AuxData []byte
}

// Parse decodes one MLD message: the ICMPv6 message only, without the IPv6
// header. The checksum field is not verified (see the package comment). The
// result never aliases b.
func Parse(b []byte) (Message, error) { return parse(b, nil) }

// A Decoder parses messages as Parse does, but returns its reports in
// storage of its own that the next call reuses: on a router's report path
// a report costs no allocation. What Parse returns, the source lists of a
// report's records included, is valid until the next call: a caller that
// keeps a list must copy it. The zero value is ready to use.
type Decoder struct {
	report  Report
	done    Done
	v2      V2Report
	records []AddressRecord // the last report's records, whose room the next one reuses
	sources igmp.SourceRoom // the last report's source lists, likewise
}

// Parse decodes one MLD message as the package's Parse does.
func (d *Decoder) Parse(b []byte) (Message, error) { return parse(b, d) }

// parse decodes into d's storage, or into new values if d is nil.
func parse(b []byte, d *Decoder) (Message, error) {
	if len(b) < headerLen {
		return nil, format.Errorf("%w: %d bytes, need %d", ErrTruncated, len(b), headerLen)
	}
	// Each case returns nil, not a typed nil pointer, on error so that
	// callers can test the message against nil.
	switch t := Type(b[0]); t {
	case TypeQuery:
		q, err := parseQuery(b)
		if err != nil {
			return nil, err
		}
		return q, nil
	case TypeV1Report, TypeV1Done:
		if len(b) < v1Len {
			return nil, format.Errorf("%w: type %d of %d bytes, need %d", ErrTruncated, int(t), len(b), v1Len)
		}
		// RFC 2710 §3.7: ignore anything past the first 24 octets, and the
		// code and delay fields, which only a query uses.
		g, err := multicastGroup(b[8:24])
		if err != nil {
			return nil, format.Errorf("%w: type %d: %w", ErrMalformed, int(t), err)
		}
		switch {
		case t == TypeV1Done && d != nil:
			d.done = Done{Group: g}
			return &d.done, nil
		case t == TypeV1Done:
			return &Done{Group: g}, nil
		case d != nil:
			d.report = Report{Group: g}
			return &d.report, nil
		}
		return &Report{Group: g}, nil
	case TypeV2Report:
		r, err := parseV2Report(b, d)
		if err != nil {
			return nil, err
		}
		return r, nil
	default:
		return nil, format.Errorf("%w: %d", ErrUnknownType, b[0])
	}
}

func parseQuery(b []byte) (*Query, error) {
	switch {
	case len(b) < v1Len:
		return nil, format.Errorf("%w: query of %d bytes, need %d", ErrTruncated, len(b), v1Len)
	case len(b) > v1Len && len(b) < v2QueryMinLen:
		// RFC 3810 §8.1: queries of other lengths must be ignored.
		return nil, format.Errorf("%w: query of %d bytes", ErrMalformed, len(b))
	}
	g := netip.AddrFrom16([16]byte(b[8:24]))
	if g != netip.IPv6Unspecified() && !isGroup(g) {
		return nil, format.Errorf("%w: query for %s, neither :: nor IPv6 multicast", ErrMalformed, g)
	}
	code := binary.BigEndian.Uint16(b[4:6])
	if len(b) == v1Len {
		return &Query{Version: 1, MaxResp: time.Duration(code) * time.Millisecond, Group: g}, nil
	}
	n := int(binary.BigEndian.Uint16(b[26:28]))
	if need := v2QueryMinLen + addrLen*n; len(b) < need {
		return nil, format.Errorf("%w: v2 query with %d sources needs %d bytes, have %d", ErrTruncated, n, need, len(b))
	}
	// RFC 3810 §5.1.10: general queries carry no sources.
	if g == netip.IPv6Unspecified() && n > 0 {
		return nil, format.Errorf("%w: general query with %d sources", ErrMalformed, n)
	}
	q := &Query{
		Version:            2,
		MaxResp:            DecodeMaxRespCode(code),
		Group:              g,
		SuppressRouterSide: b[24]&0x08 != 0, // RFC 3810 §5.1: the 4 high bits are reserved, ignored
		QRV:                b[24] & 0x07,
		QQI:                DecodeQQI(b[25]),
	}
	if n > 0 {
		q.Sources = make([]netip.Addr, n)
		for i := range q.Sources {
			q.Sources[i] = netip.AddrFrom16([16]byte(b[v2QueryMinLen+addrLen*i:]))
		}
	}
	// RFC 3810 §5.1.12: octets after the sources are ignored.
	return q, nil
}

func parseV2Report(b []byte, d *Decoder) (*V2Report, error) {
	if len(b) < v2ReportHeaderLen {
		return nil, format.Errorf("%w: v2 report of %d bytes, need %d", ErrTruncated, len(b), v2ReportHeaderLen)
	}
	nrec := int(binary.BigEndian.Uint16(b[6:8]))
	// First pass: check that every record fits and count what to allocate,
	// so no allocation is sized by a count before its bytes are known to be
	// there.
	off, known, nsrc, skipped := v2ReportHeaderLen, 0, 0, 0
	for i := range nrec {
		if len(b)-off < recordHeaderLen {
			return nil, format.Errorf("%w: v2 report record %d of %d at offset %d", ErrTruncated, i+1, nrec, off)
		}
		n := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		// RFC 3810 §5.2.6: aux data length counts 32-bit words.
		size := recordHeaderLen + addrLen*n + 4*int(b[off+1])
		if len(b)-off < size {
			return nil, format.Errorf("%w: v2 report record %d needs %d bytes at offset %d, have %d", ErrTruncated, i+1, size, off, len(b)-off)
		}
		// RFC 3810 §5.2.12: records of unknown type are ignored, the rest
		// of the report still counts.
		if knownRecord(RecordType(b[off])) {
			if _, err := multicastGroup(b[off+4 : off+20]); err != nil {
				skipped++
			} else {
				known++
				nsrc += n
			}
		}
		off += size
	}
	// RFC 3810 §5.2.11: octets after the last record are ignored.
	var r *V2Report
	if d != nil {
		// Past the last report's records the room is still zero.
		clear(d.records) // holds no earlier report's sources
		d.records = d.records[:0]
		d.v2 = V2Report{Skipped: skipped}
		r = &d.v2
	} else {
		r = &V2Report{Skipped: skipped}
	}
	if known == 0 {
		return r, nil
	}
	if d != nil && cap(d.records) >= known {
		r.Records = d.records[:0]
	} else {
		r.Records = make([]AddressRecord, 0, known)
	}
	var room *igmp.SourceRoom
	if d != nil {
		room = &d.sources
	}
	srcs := room.Take(nsrc)
	off = v2ReportHeaderLen
	for range nrec {
		rt := RecordType(b[off])
		aux := 4 * int(b[off+1])
		n := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		next := off + recordHeaderLen + addrLen*n + aux
		if !knownRecord(rt) || !isGroup(netip.AddrFrom16([16]byte(b[off+4:off+20]))) {
			off = next
			continue
		}
		rec := AddressRecord{Type: rt, Group: netip.AddrFrom16([16]byte(b[off+4 : off+20]))}
		if n > 0 {
			// Full slice expression: an append by the caller must not run
			// into the next record's sources.
			rec.Sources, srcs = srcs[:n:n], srcs[n:]
			for i := range rec.Sources {
				rec.Sources[i] = netip.AddrFrom16([16]byte(b[off+recordHeaderLen+addrLen*i:]))
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

// isGroup reports whether a is an IPv6 multicast address as the wire carries
// it: not IPv4-mapped (netip would call ::ffff:239.1.1.1 multicast) and
// without a zone, which the wire cannot carry.
func isGroup(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && a.Zone() == "" && a.IsMulticast()
}

// multicastGroup reads a 16-byte address that must be IPv6 multicast.
func multicastGroup(b []byte) (netip.Addr, error) {
	g := netip.AddrFrom16([16]byte(b))
	if !isGroup(g) {
		return netip.Addr{}, format.Errorf("address %s is not IPv6 multicast", g)
	}
	return g, nil
}

// putAddr writes a source address; it must be IPv6 without a zone.
func putAddr(b []byte, a netip.Addr) error {
	if !a.Is6() || a.Zone() != "" {
		return format.Errorf("source %s is not an IPv6 address without zone", a)
	}
	s := a.As16()
	copy(b, s[:])
	return nil
}

// Marshal encodes the query for the version in q.Version. Fields that the
// version does not carry must be zero, so that nothing silently disappears.
func (q *Query) Marshal() ([]byte, error) {
	if q.Group != netip.IPv6Unspecified() && !isGroup(q.Group) {
		return nil, format.Errorf("%w: query group %s is neither :: nor IPv6 multicast", ErrMalformed, q.Group)
	}
	if q.MaxResp < 0 {
		return nil, format.Errorf("%w: negative max response delay %v", ErrMalformed, q.MaxResp)
	}
	var b []byte
	switch q.Version {
	case 1:
		if q.SuppressRouterSide || q.QRV != 0 || q.QQI != 0 || len(q.Sources) > 0 {
			return nil, format.Errorf("%w: v1 query with MLDv2 fields set", ErrMalformed)
		}
		if q.MaxResp > maxV1MaxResp {
			return nil, format.Errorf("%w: v1 query max response delay %v above %v", ErrMalformed, q.MaxResp, maxV1MaxResp)
		}
		b = make([]byte, v1Len)
		binary.BigEndian.PutUint16(b[4:6], uint16(q.MaxResp/time.Millisecond))
	case 2:
		if q.QRV > 7 {
			return nil, format.Errorf("%w: QRV %d does not fit in 3 bits", ErrMalformed, q.QRV)
		}
		if len(q.Sources) > 0xffff {
			return nil, format.Errorf("%w: %d sources do not fit in the count", ErrMalformed, len(q.Sources))
		}
		if q.Group == netip.IPv6Unspecified() && len(q.Sources) > 0 {
			return nil, format.Errorf("%w: general query with sources", ErrMalformed)
		}
		b = make([]byte, v2QueryMinLen+addrLen*len(q.Sources))
		binary.BigEndian.PutUint16(b[4:6], EncodeMaxRespCode(q.MaxResp))
		if q.SuppressRouterSide {
			b[24] = 0x08
		}
		b[24] |= q.QRV
		b[25] = EncodeQQI(q.QQI)
		binary.BigEndian.PutUint16(b[26:28], uint16(len(q.Sources)))
		for i, s := range q.Sources {
			if err := putAddr(b[v2QueryMinLen+addrLen*i:], s); err != nil {
				return nil, format.Errorf("%w: query: %w", ErrMalformed, err)
			}
		}
	default:
		return nil, format.Errorf("%w: query version %d", ErrMalformed, q.Version)
	}
	b[0] = byte(TypeQuery)
	g := q.Group.As16()
	copy(b[8:24], g[:])
	return b, nil
}

// Marshal encodes an MLDv1 report.
func (r *Report) Marshal() ([]byte, error) { return marshalV1(TypeV1Report, r.Group) }

// Marshal encodes an MLDv1 done.
func (d *Done) Marshal() ([]byte, error) { return marshalV1(TypeV1Done, d.Group) }

// marshalV1 builds the 24-byte report or done layout; code, delay and
// reserved fields stay zero (RFC 2710 §3).
func marshalV1(t Type, group netip.Addr) ([]byte, error) {
	if !isGroup(group) {
		return nil, format.Errorf("%w: group %s is not IPv6 multicast", ErrMalformed, group)
	}
	b := make([]byte, v1Len)
	b[0] = byte(t)
	g := group.As16()
	copy(b[8:24], g[:])
	return b, nil
}

// Marshal encodes an MLDv2 report. Records of unknown type are refused: a
// sender has no business inventing them.
func (r *V2Report) Marshal() ([]byte, error) {
	if len(r.Records) > 0xffff {
		return nil, format.Errorf("%w: %d records do not fit in the count", ErrMalformed, len(r.Records))
	}
	size := v2ReportHeaderLen
	for i, rec := range r.Records {
		switch {
		case !knownRecord(rec.Type):
			return nil, format.Errorf("%w: record %d has unknown type %d", ErrMalformed, i+1, int(rec.Type))
		case !isGroup(rec.Group):
			return nil, format.Errorf("%w: record %d group %s is not IPv6 multicast", ErrMalformed, i+1, rec.Group)
		case len(rec.Sources) > 0xffff:
			return nil, format.Errorf("%w: record %d has %d sources", ErrMalformed, i+1, len(rec.Sources))
		case len(rec.AuxData)%4 != 0 || len(rec.AuxData) > 4*0xff:
			return nil, format.Errorf("%w: record %d aux data of %d bytes is not a count of 32-bit words below 256", ErrMalformed, i+1, len(rec.AuxData))
		}
		size += recordHeaderLen + addrLen*len(rec.Sources) + len(rec.AuxData)
	}
	b := make([]byte, size)
	b[0] = byte(TypeV2Report)
	binary.BigEndian.PutUint16(b[6:8], uint16(len(r.Records)))
	off := v2ReportHeaderLen
	for i, rec := range r.Records {
		b[off] = byte(rec.Type)
		b[off+1] = uint8(len(rec.AuxData) / 4)
		binary.BigEndian.PutUint16(b[off+2:off+4], uint16(len(rec.Sources)))
		g := rec.Group.As16()
		copy(b[off+4:off+20], g[:])
		off += recordHeaderLen
		for _, s := range rec.Sources {
			if err := putAddr(b[off:], s); err != nil {
				return nil, format.Errorf("%w: record %d: %w", ErrMalformed, i+1, err)
			}
			off += addrLen
		}
		off += copy(b[off:], rec.AuxData)
	}
	return b, nil
}

// MarshalWithChecksum encodes m and fills in its ICMPv6 checksum for the
// given IPv6 source and destination, as it would appear on the wire. Sending
// through a raw ICMPv6 socket does not need it; captures and tests do.
func MarshalWithChecksum(m Message, src, dst netip.Addr) ([]byte, error) {
	if !src.Is6() || !dst.Is6() {
		return nil, format.Errorf("%w: checksum addresses %s and %s must be IPv6", ErrMalformed, src, dst)
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint16(b[2:4], Checksum(src, dst, b))
	return b, nil
}

// Checksum returns the ICMPv6 checksum of msg sent from src to dst
// (RFC 4443 §2.3): the Internet checksum (RFC 1071) over the IPv6
// pseudo-header of RFC 8200 §8.1 (source, destination, upper-layer length,
// next header 58) followed by msg. Computed with the checksum field zero, it
// is the value to put there; over a message whose field is correct it is 0.
// Addresses are taken as their 16 bytes, zones ignored.
func Checksum(src, dst netip.Addr, msg []byte) uint16 {
	s, d := src.As16(), dst.As16()
	sum := igmp.Sum(igmp.Sum(0, s[:]), d[:])
	n := uint64(len(msg))
	sum += n>>16 + n&0xffff + nextHeaderICMPv6
	return ^igmp.Fold(igmp.Sum(sum, msg))
}
