package daemon

import (
	"errors"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// Drop reasons for received IGMP packets, counted and never logged per packet.
const (
	dropTruncated = iota
	dropChecksum
	dropMalformed
	dropUnknownType
	dropTTL
	dropRouterAlert
	dropSource
	dropUpstream
	dropUnknownLink
	dropOwn
	dropReadError
	dropBadRecord
	numDrops
)

var dropNames = [numDrops]string{
	dropTruncated:   "truncated",
	dropChecksum:    "checksum",
	dropMalformed:   "malformed",
	dropUnknownType: "unknown_type",
	dropTTL:         "ttl",
	dropRouterAlert: "router_alert",
	dropSource:      "bad_source",
	dropUpstream:    "report_on_upstream",
	dropUnknownLink: "wrong_interface",
	dropOwn:         "own_packet",
	dropReadError:   "read_error",
	dropBadRecord:   "bad_record",
}

// message is one IGMP message that passed the input checks, in the
// membership package's terms.
type message struct {
	kind    string            // for the received counters, e.g. "igmpv3_report"
	query   *membership.Query // non-nil for a query
	version int               // for reports: 1, 2 or 3
	records []membership.Record
	skipped int // records of the report dropped as malformed
}

// packetInfo is what the IP layer told us about a received message.
type packetInfo struct {
	src         netip.Addr
	ttl         int // TTL or hop limit
	routerAlert bool
}

// decodeIGMP checks one received IGMP message and converts it. It returns the
// drop reason when the packet must be ignored. The checks follow RFC 3376
// §4 and §9.1: TTL must be 1 and IGMPv2/v3 messages must carry the IP Router
// Alert option, so that a message forwarded from elsewhere or forged off-link
// is not believed. IGMPv1 (RFC 1112) predates the Router Alert option, so
// v1 messages are accepted without it; they are still sent with TTL 1.
// It decodes with w, the plane's working memory: a report's records go
// into w.records, which the loop hands back after the brain has read them.
func decodeIGMP(info packetInfo, payload []byte, w *decodeMemory) (message, int, bool) {
	msg, err := w.igmp.Parse(payload)
	if err != nil {
		return message{}, parseDrop(err, igmp.ErrTruncated, igmp.ErrChecksum, igmp.ErrUnknownType), false
	}
	if info.ttl != 1 {
		return message{}, dropTTL, false
	}
	v1 := false
	switch m := msg.(type) {
	case *igmp.Report:
		v1 = m.Version == 1
	case *igmp.Query:
		v1 = m.Version == 1
	}
	if !v1 && !info.routerAlert {
		return message{}, dropRouterAlert, false
	}
	switch m := msg.(type) {
	case *igmp.Query:
		return message{kind: format.Sprintf("igmp_query_v%d", m.Version), query: &membership.Query{
			Version:            m.Version,
			Group:              m.Group,
			Sources:            m.Sources,
			SuppressRouterSide: m.SuppressRouterSide,
			MaxResp:            m.MaxResp,
			QRV:                int(m.QRV),
			QQI:                m.QQI,
		}}, 0, true
	case *igmp.Report:
		// RFC 3376 §7.3.2: v1 and v2 reports are IS_EX({}). The kind is
		// picked, not formatted: this is the report path.
		kind := "igmpv2_report"
		if m.Version == 1 {
			kind = "igmpv1_report"
		}
		return message{kind: kind, version: m.Version, records: append(w.records[:0], membership.Record{Type: membership.IsExclude, Group: m.Group})}, 0, true
	case *igmp.Leave:
		// RFC 3376 §7.3.2: a v2 leave is TO_IN({}).
		return message{kind: "igmpv2_leave", version: 2, records: append(w.records[:0], membership.Record{Type: membership.ToInclude, Group: m.Group})}, 0, true
	case *igmp.V3Report:
		recs := w.records[:0]
		for _, r := range m.Records {
			recs = append(recs, membership.Record{Type: membership.RecordType(r.Type), Group: r.Group, Sources: r.Sources})
		}
		return message{kind: "igmpv3_report", version: 3, records: recs, skipped: m.Skipped}, 0, true
	}
	return message{}, dropUnknownType, false
}

// parseDrop maps a codec's parse error to the drop reason it is counted
// under; the sentinels are the codec's own (checksum may be nil).
func parseDrop(err, truncated, checksum, unknownType error) int {
	switch {
	case errors.Is(err, truncated):
		return dropTruncated
	case checksum != nil && errors.Is(err, checksum):
		return dropChecksum
	case errors.Is(err, unknownType):
		return dropUnknownType
	}
	return dropMalformed
}

// encodeIGMPQuery builds the wire form of a query the membership router asked
// for, and its destination: 224.0.0.1 for general queries, the group itself
// for group-specific ones (RFC 3376 §4.1.12).
func encodeIGMPQuery(q membership.SendQuery) (payload []byte, dst netip.Addr, err error) {
	m := &igmp.Query{
		Version:            q.Version,
		MaxResp:            q.MaxResp,
		Group:              netip.IPv4Unspecified(),
		SuppressRouterSide: q.SuppressRouterSide,
		QRV:                uint8(q.QRV),
		QQI:                q.QQI,
		Sources:            q.Sources,
	}
	dst = allSystems
	if q.Group.IsValid() && !q.Group.IsUnspecified() {
		m.Group = q.Group
		dst = q.Group
	}
	if m.Version < 3 {
		m.Sources = nil
		m.SuppressRouterSide = false
		m.QRV = 0
		m.QQI = 0
	}
	if m.Version == 1 {
		m.MaxResp = 0
	}
	payload, err = m.Marshal()
	return payload, dst, err
}

var allSystems = netip.AddrFrom4([4]byte{224, 0, 0, 1})
