package config

import "time"

// setting is one optional value as a front-end found it. Pos is where the
// statement (or key) is, ValPos where its value is; range errors point at the
// value, placement errors at the statement.
type setting[T any] struct {
	Val    T
	Set    bool
	Pos    Pos
	ValPos Pos
}

// rawConfig is the unvalidated model every front-end fills. Only syntax is
// checked before it; validate checks everything else and applies defaults,
// because defaults depend on other values (robustness, query-interval).
type rawConfig struct {
	file       string
	end        Pos // where "missing something" errors about the whole file point
	ipv4, ipv6 setting[bool]
	table      setting[uint64]
	ifaces     []*rawInterface
}

type rawInterface struct {
	name    string
	namePos Pos
	pos     Pos
	// incomplete says the front-end dropped statements of this block for
	// syntax errors, so a missing role may be one of them and is not reported.
	incomplete bool

	role    setting[Role]
	sources []setting[string]

	threshold   setting[int]
	igmpVersion setting[int]
	mldVersion  setting[int]
	robustness  setting[int]
	lmqCount    setting[int]
	sqCount     setting[int]

	queryInterval    setting[time.Duration]
	queryRespInt     setting[time.Duration]
	lastMemberQInt   setting[time.Duration]
	startupQInterval setting[time.Duration]

	ipv4, ipv6 setting[bool]

	priority   setting[int]
	maxGroups  setting[int]
	maxSources setting[int]
	fastLeave  setting[bool]
	rules      []rawRule
}

// rawRule is one allow or deny statement. source is not Set when the rule
// has none.
type rawRule struct {
	allow         bool
	pos           Pos
	group, source setting[string]
}

// downstreamOption names a downstream-only setting that is present.
type downstreamOption struct {
	name string
	pos  Pos
}

// downstreamOptions lists the downstream-only settings that are set, in a
// fixed order.
func (ri *rawInterface) downstreamOptions() []downstreamOption {
	var out []downstreamOption
	add := func(name string, set bool, pos Pos) {
		if set {
			out = append(out, downstreamOption{name, pos})
		}
	}
	add("igmp-version", ri.igmpVersion.Set, ri.igmpVersion.Pos)
	add("mld-version", ri.mldVersion.Set, ri.mldVersion.Pos)
	add("robustness", ri.robustness.Set, ri.robustness.Pos)
	add("query-interval", ri.queryInterval.Set, ri.queryInterval.Pos)
	add("query-response-interval", ri.queryRespInt.Set, ri.queryRespInt.Pos)
	add("last-member-query-interval", ri.lastMemberQInt.Set, ri.lastMemberQInt.Pos)
	add("last-member-query-count", ri.lmqCount.Set, ri.lmqCount.Pos)
	add("startup-query-interval", ri.startupQInterval.Set, ri.startupQInterval.Pos)
	add("startup-query-count", ri.sqCount.Set, ri.sqCount.Pos)
	add("max-groups", ri.maxGroups.Set, ri.maxGroups.Pos)
	add("max-sources", ri.maxSources.Set, ri.maxSources.Pos)
	add("fast-leave", ri.fastLeave.Set, ri.fastLeave.Pos)
	return out
}
