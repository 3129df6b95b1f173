package control

import (
	"net/netip"
	"time"
)

// Status is the daemon's state as reported by the "status" command. Fields are
// only ever added within a protocol version, never renamed or removed, so the
// rpcd plugin and LuCI can rely on them. Durations are seconds, addresses are
// strings (netip.Addr's text, "" for none), counters are integers.
// docs/status.md documents every field.
type Status struct {
	Version       string           `json:"version"` // daemon version
	Config        string           `json:"config"`  // configuration file path
	Started       time.Time        `json:"started"`
	UptimeSeconds float64          `json:"uptime_seconds"`
	Table         uint32           `json:"table"` // kernel multicast routing table, 0 = default
	Interfaces    []Interface      `json:"interfaces"`
	Upstream      []Subscription   `json:"upstream"`
	Routes        []Route          `json:"routes"`
	Counters      []FamilyCounters `json:"counters"`
	// Proxies are the proxy instances, the default one (named "") first
	// when it has interfaces. The entries of the lists above name their
	// instance in Proxy, empty for the default one.
	Proxies []Proxy `json:"proxies,omitempty"`

	// Pages, when set, holds the long lists back: Interfaces[].Groups,
	// Upstream and Routes are left empty and the server writes them as
	// it gets them from Pages, a piece at a time. It is not part of the
	// document.
	Pages StatusPages `json:"-"`
}

// StatusPages gives a status's long lists a page at a time. A daemon loop
// answers a status of thousands of groups with the lists' keys only and
// builds each page when the server asks for it: the answer then never
// holds every group, subscription and route at once (on a router that
// doubled the daemon's memory at each status request), and the loop
// handles reports between two pages instead of stalling for the whole
// answer.
type StatusPages interface {
	// FillPage fills pg's entries from pg.From on. The server calls it
	// from the loop's goroutine (see Call.Fill), where the state is.
	FillPage(pg *Page)
}

// Lists a Page can be a piece of.
const (
	PageGroups   = "groups"   // Interfaces[Page.Interface].Groups
	PageUpstream = "upstream" // Upstream
	PageRoutes   = "routes"   // Routes
)

// Page is a piece of one of a status's long lists.
type Page struct {
	List      string // PageGroups, PageUpstream or PageRoutes
	Interface int    // for PageGroups: the interface's index in Status.Interfaces
	From      int    // where the page starts: 0, then the previous page's Next

	// Set by FillPage: the entries (of List's type), where the next page
	// starts, and Done when there is no next page. A page that is not
	// Done has at least one entry; entries gone since the status was
	// taken are left out. The entries are valid until the next page is
	// asked for: their room may be that page's.
	Groups   []Group
	Upstream []Subscription
	Routes   []Route
	Next     int
	Done     bool
}

// Proxy is one proxy instance: its own upstream, downstreams and multicast
// routing table.
type Proxy struct {
	Name     string `json:"name"`  // "" for the default instance
	Table    uint32 `json:"table"` // its multicast routing table, 0 = the kernel's default
	Upstream string `json:"upstream"`
	// MemoryBytes is the state its downstreams hold, charged against
	// MemoryLimit (its max-memory-total) and the daemon's total.
	MemoryBytes uint64 `json:"memory_bytes"`
	MemoryLimit uint64 `json:"memory_limit"`
}

// Family names used in Status.
const (
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
)

// Interface roles.
const (
	RoleUpstream   = "upstream"
	RoleDownstream = "downstream"
)

// Interface states.
const (
	// StateActive: present, up, addressed and in use.
	StateActive = "active"
	// StateWaiting: configured but missing, down or without an address.
	StateWaiting = "waiting"
	// StateStandby: an upstream that is not the active one.
	StateStandby = "standby"
)

// Filter modes of groups and hosts (RFC 3376 section 6.2.1, RFC 3810 section 7.2).
const (
	ModeInclude = "include"
	ModeExclude = "exclude"
)

// Interface is one configured interface, one entry per family.
type Interface struct {
	Proxy     string   `json:"proxy,omitempty"` // the instance, "" for the default one
	Name      string   `json:"name"`
	Family    string   `json:"family"` // FamilyIPv4 or FamilyIPv6
	Role      string   `json:"role"`   // RoleUpstream or RoleDownstream
	State     string   `json:"state"`  // StateActive, StateWaiting or StateStandby
	Ifindex   int      `json:"ifindex"`
	VIF       int      `json:"vif"` // VIF (IPv4) or MIF (IPv6) slot, -1 if none
	Addresses []string `json:"addresses"`
	// Querier is the elected querier on a downstream; nil on upstreams.
	Querier *Querier `json:"querier,omitempty"`
	// ExpiryHeld is how many more seconds no membership on this downstream
	// expires, because reports were lost (the routing socket's buffer
	// overflowed) or wait unread (the daemon is behind its socket); 0 when
	// expiry is not held.
	ExpiryHeld float64 `json:"expiry_held,omitempty"`
	// Groups are the memberships heard on a downstream.
	Groups []Group `json:"groups,omitempty"`
	// Counters are per-interface counters, by name.
	Counters map[string]uint64 `json:"counters,omitempty"`
}

// Querier is the querier elected on a downstream link (RFC 3376 section 6.6.2,
// RFC 3810 section 7.6.2).
type Querier struct {
	Address string `json:"address"`
	Self    bool   `json:"self"`    // this daemon is the querier
	Version int    `json:"version"` // version queried: IGMP 1..3 or MLD 1..2
}

// Group is one multicast group's state on a downstream.
type Group struct {
	Group netip.Addr `json:"group"`
	Mode  string     `json:"mode"` // ModeInclude or ModeExclude
	// Sources are the forwarded sources with their timers.
	Sources []Source `json:"sources,omitempty"`
	// Excluded are the sources blocked in exclude mode.
	Excluded  []netip.Addr `json:"excluded,omitempty"`
	ExpiresIn float64      `json:"expires_in"` // group timer, seconds; 0 in include mode
	// Compat is the older-host compatibility version in effect
	// (RFC 3376 section 7.3.2, RFC 3810 section 8.3.2).
	Compat int    `json:"compat"`
	Hosts  []Host `json:"hosts,omitempty"`
	// Untracked is set when per-host tracking gave up (limit reached), so
	// Hosts is incomplete and fast leave is off for this group.
	Untracked bool `json:"untracked,omitempty"`
}

// Source is a forwarded source and its timer.
type Source struct {
	Address   netip.Addr `json:"address"`
	ExpiresIn float64    `json:"expires_in"`
}

// Host is one reporting host of a group.
type Host struct {
	Address netip.Addr   `json:"address"`
	Mode    string       `json:"mode"`
	Sources []netip.Addr `json:"sources,omitempty"`
	// SourcesOmitted counts the sources of a long list left out of
	// Sources, which holds the first of them in address order.
	SourcesOmitted int     `json:"sources_omitted,omitempty"`
	ExpiresIn      float64 `json:"expires_in"`
}

// Subscription is one group the proxy is a member of on its upstream
// (RFC 4605 section 4.1).
type Subscription struct {
	Proxy     string       `json:"proxy,omitempty"`
	Family    string       `json:"family"`
	Interface string       `json:"interface"`
	Group     netip.Addr   `json:"group"`
	Mode      string       `json:"mode"`
	Sources   []netip.Addr `json:"sources,omitempty"`
}

// Route is one installed forwarding entry, (S,G) and its interfaces, with the
// kernel's counters.
type Route struct {
	Proxy            string     `json:"proxy,omitempty"`
	Family           string     `json:"family"`
	Source           netip.Addr `json:"source"`
	Group            netip.Addr `json:"group"`
	Input            string     `json:"input"`
	Outputs          []string   `json:"outputs"`
	Packets          uint64     `json:"packets"`
	Bytes            uint64     `json:"bytes"`
	WrongIf          uint64     `json:"wrong_if"`
	PacketsPerSecond float64    `json:"packets_per_second"`
	BitsPerSecond    float64    `json:"bits_per_second"`
}

// FamilyCounters are the counters of one family of one proxy instance.
type FamilyCounters struct {
	Proxy  string `json:"proxy,omitempty"`
	Family string `json:"family"`
	// Received counts accepted messages by kind, e.g. "igmpv2_report",
	// "igmpv3_report", "igmpv2_leave", "igmp_query_v3", "mldv1_report".
	Received    map[string]uint64 `json:"received"`
	QueriesSent uint64            `json:"queries_sent"`
	// Dropped counts discarded messages by reason, e.g. "checksum",
	// "truncated", "malformed", "router_alert", "policy", "limit".
	Dropped       map[string]uint64 `json:"dropped"`
	Upcalls       uint64            `json:"upcalls"`
	RoutesAdded   uint64            `json:"routes_added"`
	RoutesChanged uint64            `json:"routes_changed"`
	RoutesRemoved uint64            `json:"routes_removed"`
}
