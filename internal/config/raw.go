package config

import "time"

// setting is one optional value as a front-end found it. Pos is where the
// statement (or key) is, ValPos where its value is; range errors point at the
// value, placement errors at the statement.
type setting[T any] struct {
	Val T
	Set bool
	// Key is the option's name as written (query-interval or
	// query_interval), for messages in the user's own words.
	Key    string
	Pos    Pos
	ValPos Pos
}

// rawConfig is the unvalidated model every front-end fills. Only syntax is
// checked before it; validate checks everything else and applies defaults,
// because defaults depend on other values (robustness, query-interval).
type rawConfig struct {
	file string
	end  Pos // where "missing something" errors about the whole file point
	// name is the proxy instance's name, "" for the default instance (the
	// file's top level); pos is where its block or section starts, namePos
	// where its name is.
	name         string
	pos, namePos Pos
	// incomplete says a proxy block was not closed, so interfaces may be
	// missing from it and its missing roles are not reported.
	incomplete bool
	ipv4, ipv6 setting[bool]
	table      setting[uint64]
	// maxMemoryTotal is in KiB.
	maxMemoryTotal setting[int]
	ifaces         []*rawInterface
	// proxies are the named instances (proxy blocks, further UCI proxy
	// sections), in file order; only the top level has them.
	proxies []*rawConfig
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
	maxMemory  setting[int] // KiB
	fastLeave  setting[bool]
	rules      []rawRule
}

// rawRule is one allow or deny statement. source is not Set when the rule
// has none.
type rawRule struct {
	allow         bool
	key           string
	pos           Pos
	group, source setting[string]
}
