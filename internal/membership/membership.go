// Package membership is the router side of IGMPv3 (RFC 3376 §6, §7) and,
// through the same machine, MLDv2 (RFC 3810 §7) for one downstream link.
//
// It is pure: events and the current time go in, actions come out, and
// NextDeadline tells the caller when to call Advance. Addresses are
// netip.Addr so IPv4 and IPv6 share every rule. Versions use the IGMP scale
// (1, 2, 3); the MLD layer maps MLDv1 to 2 and MLDv2 to 3.
//
// Beside the RFC state it tracks which hosts reported each group and their
// own filter state, bounded like everything a report can create (Config
// limits, Stats); with Config.FastLeave that lets a leave take effect at
// once when no other known host still wants the traffic.
package membership

import (
	"net/netip"
	"strconv"
	"time"
)

// Config holds the protocol variables of RFC 3376 §8. Zero fields take the
// RFC defaults through WithDefaults.
type Config struct {
	Robustness              int           // RFC 3376 §8.1 (default 2)
	QueryInterval           time.Duration // §8.2 (125s)
	QueryResponseInterval   time.Duration // §8.3 (10s)
	StartupQueryInterval    time.Duration // §8.6 (QueryInterval/4)
	StartupQueryCount       int           // §8.7 (Robustness)
	LastMemberQueryInterval time.Duration // §8.8 (1s)
	LastMemberQueryCount    int           // §8.9 (Robustness)
	Version                 int           // highest protocol version this router speaks on the link: 1, 2 or 3 (IGMP scale); default 3

	// Limits on the state that reports can create; 0 means unlimited.
	// They bound memory against floods from the link (see Stats).
	MaxGroups  int // groups on the link
	MaxSources int // sources in one group's list, and in one host's list
	// MaxBytes bounds the heap the link's state may hold, in bytes as
	// charged by GroupBytes, SourceBytes, HostBytes and HostSourceBytes.
	// The count limits alone multiply out to hundreds of MiB (1024
	// groups x 64 hosts x 128 sources); this is the real bound.
	MaxBytes int

	// FastLeave cuts a group or source at once when the last tracked host
	// interested in it leaves, instead of running the last-member query
	// procedure (RFC 3376 §6.6.3). It falls back to that procedure
	// whenever the group has a member it cannot track (see GroupState).
	FastLeave bool
}

// WithDefaults returns c with every zero (or negative) field set to its RFC
// default. A Version outside 1..3 becomes 3; negative limits become 0
// (unlimited). Non-positive intervals are
// replaced because a zero interval would make periodic events fire forever.
func (c Config) WithDefaults() Config {
	if c.Robustness <= 0 {
		c.Robustness = 2 // §8.1
	}
	if c.QueryInterval <= 0 {
		c.QueryInterval = 125 * time.Second // §8.2
	}
	if c.QueryResponseInterval <= 0 {
		c.QueryResponseInterval = 10 * time.Second // §8.3
	}
	if c.StartupQueryInterval <= 0 {
		c.StartupQueryInterval = c.QueryInterval / 4 // §8.6
	}
	if c.StartupQueryCount <= 0 {
		c.StartupQueryCount = c.Robustness // §8.7
	}
	if c.LastMemberQueryInterval <= 0 {
		c.LastMemberQueryInterval = time.Second // §8.8
	}
	if c.LastMemberQueryCount <= 0 {
		c.LastMemberQueryCount = c.Robustness // §8.9
	}
	if c.Version < 1 || c.Version > 3 {
		c.Version = 3
	}
	c.MaxGroups = max(c.MaxGroups, 0)
	c.MaxSources = max(c.MaxSources, 0)
	c.MaxBytes = max(c.MaxBytes, 0)
	return c
}

// FilterMode is the filter mode of a group record (RFC 3376 §6.2.1).
type FilterMode uint8

// Filter modes.
const (
	Include FilterMode = iota
	Exclude
)

func (m FilterMode) String() string {
	switch m {
	case Include:
		return "include"
	case Exclude:
		return "exclude"
	}
	return "FilterMode(" + strconv.Itoa(int(m)) + ")"
}

// RecordType is a group record type, with the codes of RFC 3376 §4.2.12
// (the same codes as RFC 3810 §5.2.12).
type RecordType uint8

// Group record types.
const (
	IsInclude RecordType = 1 // MODE_IS_INCLUDE
	IsExclude RecordType = 2 // MODE_IS_EXCLUDE
	ToInclude RecordType = 3 // CHANGE_TO_INCLUDE_MODE
	ToExclude RecordType = 4 // CHANGE_TO_EXCLUDE_MODE
	Allow     RecordType = 5 // ALLOW_NEW_SOURCES
	Block     RecordType = 6 // BLOCK_OLD_SOURCES
)

func (t RecordType) String() string {
	switch t {
	case IsInclude:
		return "IS_IN"
	case IsExclude:
		return "IS_EX"
	case ToInclude:
		return "TO_IN"
	case ToExclude:
		return "TO_EX"
	case Allow:
		return "ALLOW"
	case Block:
		return "BLOCK"
	}
	return "RecordType(" + strconv.Itoa(int(t)) + ")"
}

// Record is one group record of a report.
type Record struct {
	Type    RecordType
	Group   netip.Addr
	Sources []netip.Addr
}

// Query is a query heard on the link from another router.
type Query struct {
	Version            int
	Group              netip.Addr // invalid or unspecified: general query
	Sources            []netip.Addr
	SuppressRouterSide bool
	MaxResp            time.Duration
	QRV                int
	QQI                time.Duration
}

// GroupState is a read-only view of one group record.
type GroupState struct {
	Group netip.Addr
	Mode  FilterMode
	// Include lists the sources whose timer runs, sorted. In EXCLUDE mode
	// this is the "requested" list of RFC 3376 §6.2.1.
	Include []netip.Addr
	// Exclude lists, in EXCLUDE mode, the sources whose timer is zero: their
	// traffic is not forwarded. Sorted.
	Exclude []netip.Addr
	Compat  int // group compatibility mode, 1, 2 or 3 (§7.3.2)
	// Expires is the group timer in EXCLUDE mode and the latest source
	// timer in INCLUDE mode: when the record goes away without reports.
	Expires time.Time
	// Hosts lists the tracked hosts that reported the group, sorted by
	// address. Hosts in state INCLUDE{} (after a leave) are not listed.
	Hosts []Host
	// Untracked is set while the group has a member whose interest the
	// router cannot follow: an IGMPv1 host (it sends no leave), a report
	// from the unspecified address (RFC 3376 §4.2.13), a host beyond the
	// per-group host limit, or a host whose INCLUDE list was cut by
	// MaxSources. It clears a Group Membership Interval after the last
	// such report. Fast leave never acts on a group while it is set.
	Untracked bool
}

// Host is the filter state one host reported for a group (RFC 3376 §3.2),
// rebuilt from its records: IS_IN/TO_IN and IS_EX/TO_EX replace it, ALLOW
// and BLOCK edit the source list. IGMPv2 reports and MLDv1 are EXCLUDE{}.
type Host struct {
	Addr    netip.Addr
	Mode    FilterMode
	Sources []netip.Addr // sorted; the first of them only, when asked for fewer
	// SourceCount is the length of the host's whole source list.
	SourceCount int
	// Expires is a Group Membership Interval after the host's last report
	// for the group (§8.4).
	Expires time.Time
}

// Action is something the caller must do on behalf of the router: the one
// of its fields that Kind names. It is a plain struct, not an interface
// over the two kinds, so that a call hands its actions over without boxing
// each one (an allocation apiece, on the report path); the router reuses
// the slice it returns them in, so they are the caller's to use before its
// next call on the router.
type Action struct {
	Kind         ActionKind
	SendQuery    SendQuery
	GroupChanged GroupChanged
}

// ActionKind says which of an Action's fields holds it.
type ActionKind uint8

const (
	KindSendQuery ActionKind = iota + 1
	KindGroupChanged
)

// SendQuery asks the caller to send a query on the link.
type SendQuery struct {
	Version            int          // version to encode: the router's configured Version
	Group              netip.Addr   // invalid (zero) for a general query
	Sources            []netip.Addr // group-and-source-specific query
	SuppressRouterSide bool
	MaxResp            time.Duration
	QRV                int
	QQI                time.Duration
}

// GroupChanged says that the forwarding-relevant state of a group changed:
// it was created or deleted, its filter mode changed, or the set of
// forwarded (INCLUDE) or blocked (EXCLUDE, timer zero) sources changed.
type GroupChanged struct{ Group netip.Addr }

// Action returns q as an action.
func (q SendQuery) Action() Action { return Action{Kind: KindSendQuery, SendQuery: q} }

// Action returns c as an action.
func (c GroupChanged) Action() Action { return Action{Kind: KindGroupChanged, GroupChanged: c} }
