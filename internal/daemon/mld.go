package daemon

import (
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mld"
)

// The membership router counts versions on the IGMP scale; MLDv1 behaves
// like IGMPv2 and MLDv2 like IGMPv3 (RFC 3810 §8). This mapping is the whole
// difference between the families as far as the state machine is concerned.
func mldToMembership(v int) int { return v + 1 }
func membershipToMLD(v int) int { return max(v-1, 1) }

// decodeMLD checks one received MLD message and converts it. RFC 3810
// §5.1.14 and §5.2.13: messages count only if they come from a link-local
// source (reports may also come from ::, sent before the host has an
// address), with hop limit 1 and the Router Alert hop-by-hop option, so
// nothing forwarded from another link is believed. It decodes with w, the
// plane's working memory, as decodeIGMP does.
func decodeMLD(info packetInfo, payload []byte, w *decodeMemory) (message, int, bool) {
	msg, err := w.mld.Parse(payload)
	if err != nil {
		// The kernel verified the ICMPv6 checksum already.
		return message{}, parseDrop(err, mld.ErrTruncated, nil, mld.ErrUnknownType), false
	}
	if info.ttl != 1 {
		return message{}, dropTTL, false
	}
	if !info.routerAlert {
		return message{}, dropRouterAlert, false
	}
	_, isQuery := msg.(*mld.Query)
	if !info.src.IsLinkLocalUnicast() && (isQuery || !info.src.IsUnspecified()) {
		return message{}, dropSource, false
	}
	switch m := msg.(type) {
	case *mld.Query:
		return message{kind: format.Sprintf("mld_query_v%d", m.Version), query: &membership.Query{
			Version:            mldToMembership(m.Version),
			Group:              m.Group,
			Sources:            m.Sources,
			SuppressRouterSide: m.SuppressRouterSide,
			MaxResp:            m.MaxResp,
			QRV:                int(m.QRV),
			QQI:                m.QQI,
		}}, 0, true
	case *mld.Report:
		// RFC 3810 §8.3.2: an MLDv1 report is IS_EX({}).
		return message{kind: "mldv1_report", version: mldToMembership(1), records: append(w.records[:0], membership.Record{Type: membership.IsExclude, Group: m.Group})}, 0, true
	case *mld.Done:
		// RFC 3810 §8.3.2: an MLDv1 done is TO_IN({}).
		return message{kind: "mldv1_done", version: mldToMembership(1), records: append(w.records[:0], membership.Record{Type: membership.ToInclude, Group: m.Group})}, 0, true
	case *mld.V2Report:
		recs := w.records[:0]
		for _, r := range m.Records {
			recs = append(recs, membership.Record{Type: membership.RecordType(r.Type), Group: r.Group, Sources: r.Sources})
		}
		return message{kind: "mldv2_report", version: mldToMembership(2), records: recs, skipped: m.Skipped}, 0, true
	}
	return message{}, dropUnknownType, false
}

// encodeMLDQuery builds the wire form of a query and its destination:
// ff02::1 for general queries, the address itself for address-specific
// ones (RFC 3810 §5.1.15). The kernel fills the ICMPv6 checksum.
func encodeMLDQuery(q membership.SendQuery) ([]byte, netip.Addr, error) {
	m := &mld.Query{
		Version:            membershipToMLD(q.Version),
		MaxResp:            q.MaxResp,
		Group:              netip.IPv6Unspecified(),
		SuppressRouterSide: q.SuppressRouterSide,
		QRV:                uint8(q.QRV),
		QQI:                q.QQI,
		Sources:            q.Sources,
	}
	dst := allNodes
	if q.Group.IsValid() && !q.Group.IsUnspecified() {
		m.Group = q.Group
		dst = q.Group
	}
	if m.Version == 1 {
		m.Sources = nil
		m.SuppressRouterSide = false
		m.QRV = 0
		m.QQI = 0
	}
	payload, err := m.Marshal()
	return payload, dst, err
}

var allNodes = netip.MustParseAddr("ff02::1")
