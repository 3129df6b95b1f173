package config

import (
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Defaults.
const (
	defaultThreshold   = 1
	defaultIGMPVersion = 3
	defaultMLDVersion  = 2
	// RFC 3376 §8.1 and RFC 3810 §9.1.
	defaultRobustness = 2
	// RFC 3376 §8.2.
	defaultQueryInterval = 125 * time.Second
	// RFC 3376 §8.3.
	defaultQueryResponseInterval = 10 * time.Second
	// RFC 3376 §8.8.
	defaultLastMemberQueryInterval = time.Second
	defaultMaxGroups               = 1024
	defaultMaxSources              = 128
	// Byte budgets of the state hosts can create, in KiB: per downstream
	// and for all downstreams together. A downstream with 1024 groups of
	// one host each needs about 0.7 MiB; the total keeps the daemon, with
	// the Go runtime's own, under 24 MiB however hostile the LAN is
	// (docs/performance.md).
	defaultMaxMemory      = 2048
	defaultMaxMemoryTotal = 4096
)

// Limits of what the wire and the kernel can carry.
const (
	// MAXVIFS in linux/mroute.h (and MAXMIFS in linux/mroute6.h).
	maxEnabledInterfaces = 32
	// Response times travel in tenths of a second (RFC 3376 §4.1.1).
	respUnit = 100 * time.Millisecond
	// Max Resp Code 0xff: mantissa 0xf, exponent 7 (RFC 3376 §4.1.1).
	maxRespTime = 31744 * respUnit
	// IGMPv2 Max Resp Time is a plain 8-bit count of tenths (RFC 2236 §2.2).
	maxRespTimeIGMPv2 = 255 * respUnit
	// MLDv1 Maximum Response Delay is 16-bit milliseconds (RFC 2710 §3.4).
	maxRespTimeMLDv1 = 65535 * time.Millisecond
	// IGMPv1 queries carry no response time; hosts use 10 s (RFC 2236 §4).
	respTimeIGMPv1 = 10 * time.Second
	// QQIC 0xff is the longest query interval a query can announce, in
	// whole seconds (RFC 3376 §4.1.7).
	minQueryInterval = time.Second
	maxQueryInterval = 31744 * time.Second
	// Counts beyond this only delay leaves; hosts see nothing of them.
	maxCount = 10
	// Limits on the state hosts can make a downstream hold.
	maxMaxGroups  = 65536
	maxMaxSources = 1024
	// Budgets in KiB: below 64 KiB a link cannot hold a useful set of
	// groups; 1 GiB is far beyond any router.
	minMaxMemory = 64
	maxMaxMemory = 1 << 20
	// RT_TABLE_DEFAULT in linux/rtnetlink.h: the table ipmr and ip6mr
	// create at boot and the default multicast rule points at.
	kernelDefaultTable = 253
)

// The whole multicast ranges: RFC 5771 and RFC 4291 §2.7.
var (
	multicast4 = netip.MustParsePrefix("224.0.0.0/4")
	multicast6 = netip.MustParsePrefix("ff00::/8")
)

// validator collects errors while validate walks a raw model.
type validator struct {
	errs Errors
	// ifaces are the interfaces declared so far, in every instance.
	ifaces map[string]ifaceSeen
}

func (v *validator) errorf(pos Pos, layout string, args ...any) {
	v.errs = append(v.errs, &Error{Pos: pos, Msg: format.Sprintf(layout, args...)})
}

// build validates r and merges the result with the syntax errors the
// front-end found. Every front-end ends here, so all report alike.
func (r *rawConfig) build(syntax Errors) (*Config, error) {
	c, errs := r.validate()
	errs = append(syntax, errs...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return c, nil
}

// validate checks a raw model and builds the Config with every default
// applied. It reports every problem it finds, in no particular order.
func (r *rawConfig) validate() (*Config, Errors) {
	v := &validator{ifaces: map[string]ifaceSeen{}}
	c := &Config{
		File: r.file,
		IPv4: valueOr(r.ipv4, true),
		IPv6: valueOr(r.ipv6, false),
	}
	c.MaxMemoryTotal = v.instance(r, c, nil)
	names := map[string]Pos{}
	tables := map[uint32]*rawConfig{}
	if c.Table != 0 {
		tables[c.Table] = r
	}
	for _, rp := range r.proxies {
		pc := &Config{
			File: r.file, Name: rp.name, Pos: rp.pos,
			IPv4: valueOr(rp.ipv4, c.IPv4),
			IPv6: valueOr(rp.ipv6, c.IPv6),
		}
		if !isUCIName(rp.name) {
			v.errorf(rp.namePos, "proxy name %q may hold only letters, digits and \"_\"", rp.name)
		} else if first, dup := names[rp.name]; dup {
			v.errorf(rp.pos, "duplicate proxy %q (first at %s)", rp.name, lineCol(first))
		} else {
			names[rp.name] = rp.pos
		}
		pc.MaxMemoryTotal = v.instance(rp, pc, c)
		if pc.Table != 0 {
			if first, dup := tables[pc.Table]; dup {
				what := "the default instance"
				if first.name != "" {
					what = format.Sprintf("proxy %q", first.name)
				}
				v.errorf(rp.table.ValPos, "table %d is already the table of %s (at %s); each proxy instance needs its own table", pc.Table, what, lineCol(first.table.ValPos))
			} else {
				tables[pc.Table] = rp
			}
		}
		c.Proxies = append(c.Proxies, pc)
	}
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return c, nil
}

// ifaceSeen is where an interface was first declared, and in which
// instance.
type ifaceSeen struct {
	pos   Pos
	proxy string
}

// instance validates the settings and interfaces of one proxy instance
// into c and returns its memory budget. top is the default instance when r
// is a named one, whose settings r inherits.
func (v *validator) instance(r *rawConfig, c *Config, top *Config) (maxMemoryTotal int) {
	if !c.IPv4 && !c.IPv6 {
		pos := r.ipv4.Pos
		if r.ipv6.Set && posLess(pos, r.ipv6.Pos) {
			pos = r.ipv6.Pos
		}
		if top == nil || r.ipv4.Set || r.ipv6.Set {
			v.errorf(pos, "ipv4 and ipv6 are both disabled; nothing to proxy")
		}
	}
	if t := r.table; t.Set {
		switch {
		case t.Val < 1 || t.Val > math.MaxUint32:
			v.errorf(t.ValPos, "table %d is out of range 1..%d", t.Val, uint64(math.MaxUint32))
		case t.Val == kernelDefaultTable && top != nil:
			v.errorf(t.ValPos, "table %d is the kernel's default multicast table, which a named proxy cannot use; leave table out to have one chosen", t.Val)
		case t.Val == kernelDefaultTable:
			v.errorf(t.ValPos, "table %d is the kernel's default multicast table; leave table out to use it", t.Val)
		default:
			c.Table = uint32(t.Val)
		}
	}
	def := defaultMaxMemoryTotal
	if top != nil {
		def = top.MaxMemoryTotal >> 10
	}
	maxMemoryTotal = v.intIn(r.maxMemoryTotal, "max-memory-total", minMaxMemory, maxMaxMemory, def, "") << 10

	enabled, upstreams, downstreams := 0, 0, 0
	roleMissing := false
	for _, ri := range r.ifaces {
		v.checkName(ri)
		f, dup := v.ifaces[ri.name]
		switch {
		case dup && f.proxy == r.name:
			v.errorf(ri.pos, "duplicate interface %q (first at %s)", ri.name, lineCol(f.pos))
		case dup:
			in := "the default instance"
			if f.proxy != "" {
				in = format.Sprintf("proxy %q", f.proxy)
			}
			v.errorf(ri.pos, "interface %q is already in %s (at %s); an interface belongs to one proxy instance", ri.name, in, lineCol(f.pos))
		default:
			v.ifaces[ri.name] = ifaceSeen{pos: ri.pos, proxy: r.name}
		}
		if !ri.role.Set {
			if ri.incomplete {
				roleMissing = true
			} else {
				v.errorf(ri.pos, "interface %q has no role (upstream, downstream or disabled)", ri.name)
			}
		}
		iface := v.checkInterface(ri, c)
		switch iface.Role {
		case RoleUpstream:
			upstreams++
		case RoleDownstream:
			downstreams++
		}
		if dup {
			// Its contents are checked, but counting it too would count
			// it twice towards the 32 enabled interfaces.
			continue
		}
		if iface.Role != RoleDisabled {
			enabled++
			if enabled == maxEnabledInterfaces+1 {
				v.errorf(ri.pos, "interface %q is enabled interface number %d; the kernel has only %d multicast interfaces (VIFs)",
					ri.name, enabled, maxEnabledInterfaces)
			}
		}
		c.Interfaces = append(c.Interfaces, iface)
	}
	// A block that lost statements to syntax errors may have lost its role,
	// so missing roles overall would only repeat that error. The default
	// instance may be empty when named ones exist.
	if roleMissing || r.incomplete || (top == nil && len(r.ifaces) == 0 && len(r.proxies) > 0) {
		return maxMemoryTotal
	}
	of := ""
	if top != nil {
		of = format.Sprintf(" in proxy %q", r.name)
	}
	if upstreams == 0 {
		v.errorf(r.end, "no upstream interface%s; at least one interface needs \"upstream\"", of)
	}
	if downstreams == 0 {
		v.errorf(r.end, "no downstream interface%s; at least one interface needs \"downstream\"", of)
	}
	return maxMemoryTotal
}

// checkName applies the kernel's rules for interface names (dev_valid_name),
// or UCI's for network names written "@network".
func (v *validator) checkName(ri *rawInterface) {
	n := ri.name
	if net, ok := strings.CutPrefix(n, "@"); ok {
		// A netifd network: a UCI section name of /etc/config/network.
		if !isUCIName(net) {
			v.errorf(ri.namePos, "network name %q may hold only letters, digits and \"_\"", net)
		}
		return
	}
	switch {
	case n == "":
		v.errorf(ri.namePos, "empty interface name")
	case len(n) > 15:
		// IFNAMSIZ is 16 bytes including the terminating NUL.
		v.errorf(ri.namePos, "interface name %q is longer than 15 bytes", n)
	case n == "." || n == "..":
		v.errorf(ri.namePos, "interface name %q is not allowed", n)
	case strings.ContainsRune(n, ':'):
		v.errorf(ri.namePos, "interface name %q contains \":\"; an alias label like eth0:1 is not an interface", n)
	case strings.ContainsAny(n, "/ \t\n\v\f\r\x00"):
		v.errorf(ri.namePos, "interface name %q contains \"/\", whitespace or NUL", n)
	case strings.ContainsFunc(n, unicode.IsControl) || !utf8.ValidString(n):
		// The kernel takes them, but they are never a real name, and
		// printed by status they would drive a terminal.
		v.errorf(ri.namePos, "interface name %q contains a control character or invalid UTF-8", n)
	}
}

// checkInterface validates one block and returns it with defaults applied.
func (v *validator) checkInterface(ri *rawInterface, c *Config) Interface {
	iface := Interface{
		Name:    ri.name,
		Network: strings.TrimPrefix(ri.name, "@"),
		Role:    ri.role.Val,
		Pos:     ri.pos,
		IPv4:    valueOr(ri.ipv4, c.IPv4),
		IPv6:    valueOr(ri.ipv6, c.IPv6),
	}
	if !strings.HasPrefix(ri.name, "@") {
		iface.Network = ""
	}
	// Without settings of its own the interface only inherits the global
	// ones, and an error about those is reported once, globally.
	if ri.role.Set && ri.role.Val != RoleDisabled && !iface.IPv4 && !iface.IPv6 && (ri.ipv4.Set || ri.ipv6.Set) {
		pos := ri.pos
		for _, s := range []setting[bool]{ri.ipv4, ri.ipv6} {
			if s.Set && !s.Val && posLess(pos, s.Pos) {
				pos = s.Pos
			}
		}
		v.errorf(pos, "interface %q has both ipv4 and ipv6 disabled", ri.name)
	}

	ri = v.checkPlacement(ri)
	iface.Threshold = v.intIn(ri.threshold, "threshold", 1, 255, defaultThreshold, "")
	iface.Priority = v.intIn(ri.priority, "priority", 0, 65535, 0, "")
	v.checkQuerier(ri, &iface)
	iface.MaxGroups = v.intIn(ri.maxGroups, "max-groups", 1, maxMaxGroups, defaultMaxGroups, "")
	iface.MaxSources = v.intIn(ri.maxSources, "max-sources", 1, maxMaxSources, defaultMaxSources, "")
	iface.MaxMemory = v.intIn(ri.maxMemory, "max-memory", minMaxMemory, maxMaxMemory, defaultMaxMemory, "") << 10
	iface.FastLeave = valueOr(ri.fastLeave, false)
	v.checkSources(ri, &iface)
	v.checkACL(ri, &iface)
	return iface
}

// checkPlacement reports the options set on a role they do not apply to
// and returns a copy of ri without them, so that only their defaults are
// filled in. The upstream acts as a host towards the upstream router (RFC
// 4605 §2.1): it never queries and has no hosts to limit, so downstream
// settings there are a mistake. A disabled interface may keep downstream
// settings, to be switched back on later.
func (v *validator) checkPlacement(ri *rawInterface) *rawInterface {
	out := *ri
	if !ri.role.Set {
		return &out
	}
	role := ri.role.Val
	for _, o := range interfaceOptions {
		if o.allowedOn(role) {
			continue
		}
		dst := o.iface(&out)
		article := "a"
		if o.only == RoleUpstream {
			article = "an"
		}
		for _, s := range placed(dst) {
			v.errorf(s.Pos, "%s is only meaningful on %s %s interface", s.Key, article, o.only)
		}
		forget(dst)
	}
	return &out
}

// checkQuerier validates the querier settings and fills them in.
func (v *validator) checkQuerier(ri *rawInterface, iface *Interface) {
	iface.IGMPVersion = v.intIn(ri.igmpVersion, "igmp-version", 1, 3, defaultIGMPVersion, "")
	iface.MLDVersion = v.intIn(ri.mldVersion, "mld-version", 1, 2, defaultMLDVersion, "")
	iface.Robustness = v.intIn(ri.robustness, "robustness", 1, 7, defaultRobustness,
		" (QRV is a 3-bit field, RFC 3376 §4.1.6)")
	iface.LastMemberQueryCount = v.intIn(ri.lmqCount, "last-member-query-count", 1, maxCount, iface.Robustness, "")
	iface.StartupQueryCount = v.intIn(ri.sqCount, "startup-query-count", 1, maxCount, iface.Robustness, "")

	var qiOK, qriOK, lmqiOK bool
	iface.QueryInterval, qiOK = v.durationIn(ri.queryInterval, "query-interval",
		minQueryInterval, maxQueryInterval, time.Second, defaultQueryInterval,
		" (QQIC, RFC 3376 §4.1.7)")
	iface.QueryResponseInterval, qriOK = v.durationIn(ri.queryRespInt, "query-response-interval",
		respUnit, maxRespTime, respUnit, defaultQueryResponseInterval,
		" (Max Resp Code, RFC 3376 §4.1.1)")
	iface.LastMemberQueryInterval, lmqiOK = v.durationIn(ri.lastMemberQInt, "last-member-query-interval",
		respUnit, maxRespTime, respUnit, defaultLastMemberQueryInterval,
		" (Max Resp Code, RFC 3376 §4.1.1)")
	// RFC 3376 §8.6: the default is a quarter of the query interval. It is a
	// local timer only, so no wire granularity applies.
	iface.StartupQueryInterval, _ = v.durationIn(ri.startupQInterval, "startup-query-interval",
		respUnit, maxQueryInterval, 0, iface.QueryInterval/4, "")

	// RFC 3376 §8.3: the response interval must be shorter than the query
	// interval, or hosts would still be answering when the next query comes.
	if qiOK && qriOK && iface.QueryResponseInterval >= iface.QueryInterval {
		pos := ri.queryRespInt.Pos
		if !ri.queryRespInt.Set || (ri.queryInterval.Set && posLess(pos, ri.queryInterval.Pos)) {
			pos = ri.queryInterval.Pos
		}
		v.errorf(pos, "%s (%s) must be less than %s (%s), RFC 3376 §8.3",
			keyOr(ri.queryRespInt, "query-response-interval"), formatDuration(iface.QueryResponseInterval),
			keyOr(ri.queryInterval, "query-interval"), formatDuration(iface.QueryInterval))
	}
	if iface.IPv4 {
		switch iface.IGMPVersion {
		case 2:
			v.maxFor(ri.queryRespInt, qriOK, "query-response-interval", iface.QueryResponseInterval, maxRespTimeIGMPv2,
				"igmp-version 2 (Max Resp Time, RFC 2236 §2.2)")
			v.maxFor(ri.lastMemberQInt, lmqiOK, "last-member-query-interval", iface.LastMemberQueryInterval, maxRespTimeIGMPv2,
				"igmp-version 2 (Max Resp Time, RFC 2236 §2.2)")
		case 1:
			if ri.queryRespInt.Set && qriOK && iface.QueryResponseInterval != respTimeIGMPv1 {
				v.errorf(ri.queryRespInt.ValPos, "query-response-interval cannot be set with igmp-version 1: IGMPv1 queries carry no response time and hosts answer within 10s (RFC 2236 §4)")
			}
		}
	}
	if iface.IPv6 && iface.MLDVersion == 1 {
		v.maxFor(ri.queryRespInt, qriOK, "query-response-interval", iface.QueryResponseInterval, maxRespTimeMLDv1,
			"mld-version 1 (Maximum Response Delay, RFC 2710 §3.4)")
		v.maxFor(ri.lastMemberQInt, lmqiOK, "last-member-query-interval", iface.LastMemberQueryInterval, maxRespTimeMLDv1,
			"mld-version 1 (Maximum Response Delay, RFC 2710 §3.4)")
	}
}

// maxFor reports a set, valid duration above what an older protocol version
// carries.
func (v *validator) maxFor(s setting[time.Duration], ok bool, name string, d, limit time.Duration, why string) {
	if s.Set && ok && d > limit {
		v.errorf(s.ValPos, "%s %s is too long for %s; at most %s", name, formatDuration(d), why, formatDuration(limit))
	}
}

// checkSources parses and checks the upstream's extra source prefixes.
func (v *validator) checkSources(ri *rawInterface, iface *Interface) {
	seen := map[netip.Prefix]Pos{}
	for _, s := range ri.sources {
		p, ok := v.parsePrefix(s, "source")
		if !ok {
			continue
		}
		if first, dup := seen[p]; dup {
			v.errorf(s.ValPos, "duplicate source %s (first at %s)", p, lineCol(first))
			continue
		}
		seen[p] = s.ValPos
		v.checkFamily(s.ValPos, "source", p, iface)
		iface.Sources = append(iface.Sources, p)
	}
}

// checkFamily reports a prefix of a family the interface does not proxy.
func (v *validator) checkFamily(pos Pos, what string, p netip.Prefix, iface *Interface) bool {
	if p.Addr().Is4() && !iface.IPv4 {
		v.errorf(pos, "%s %s is IPv4 but ipv4 is disabled on interface %q", what, p, iface.Name)
		return false
	}
	if p.Addr().Is6() && !iface.IPv6 {
		v.errorf(pos, "%s %s is IPv6 but ipv6 is disabled on interface %q", what, p, iface.Name)
		return false
	}
	return true
}

// checkACL parses the allow and deny rules. "group any" stands for the
// whole multicast range of each family the interface proxies, or, with a
// source, of the source's family. A rule that an earlier one covers would
// never decide anything and is reported, since it usually means the rules
// are in the wrong order.
func (v *validator) checkACL(ri *rawInterface, iface *Interface) {
	shadows := newShadowIndex()
	for _, rr := range ri.rules {
		rule := Rule{Allow: rr.allow, Pos: rr.pos}
		ok := true
		if rr.source.Set {
			rule.Source, ok = v.parseSource(rr.source, iface)
		}
		var groups []netip.Prefix
		switch {
		case rr.group.Val == "any" && rule.Source.IsValid():
			groups = []netip.Prefix{multicastRange(rule.Source.Addr())}
		case rr.group.Val == "any":
			if iface.IPv4 {
				groups = append(groups, multicast4)
			}
			if iface.IPv6 {
				groups = append(groups, multicast6)
			}
		default:
			g, gok := v.parseGroup(rr.group, iface)
			if !gok {
				continue
			}
			if rule.Source.IsValid() && g.Addr().Is4() != rule.Source.Addr().Is4() {
				v.errorf(rr.source.ValPos, "source %s and group %s are of different families", rule.Source, g)
				continue
			}
			groups = []netip.Prefix{g}
		}
		if !ok {
			continue
		}
		shadowed := false
		for _, g := range groups {
			rule.Group = g
			if i := shadows.coverer(iface.ACL, rule); !shadowed && i >= 0 {
				earlier := iface.ACL[i]
				v.errorf(rr.pos, "%s never matches: %q at %s comes first and covers it",
					ruleText(rr), earlier.String(), lineCol(earlier.Pos))
				shadowed = true
			}
			shadows.add(rule, len(iface.ACL))
			iface.ACL = append(iface.ACL, rule)
		}
	}
}

// ruleText is a rule as written, for error messages.
func ruleText(rr rawRule) string {
	s := "deny group "
	if rr.allow {
		s = "allow group "
	}
	s += rr.group.Val
	if rr.source.Set {
		s += " source " + rr.source.Val
	}
	return s
}

// parseGroup parses the group prefix of a rule, which must lie in the
// multicast range.
func (v *validator) parseGroup(s setting[string], iface *Interface) (netip.Prefix, bool) {
	p, ok := v.parsePrefix(s, "group")
	if !ok {
		return p, false
	}
	if !contains(multicastRange(p.Addr()), p) {
		v.errorf(s.ValPos, "group %s is not a multicast prefix; groups lie in %s and %s, or write \"any\"", p, multicast4, multicast6)
		return p, false
	}
	return p, v.checkFamily(s.ValPos, "group", p, iface)
}

// parseSource parses the source prefix of a rule: senders are unicast.
func (v *validator) parseSource(s setting[string], iface *Interface) (netip.Prefix, bool) {
	p, ok := v.parsePrefix(s, "source")
	if !ok {
		return p, false
	}
	if contains(multicastRange(p.Addr()), p) {
		v.errorf(s.ValPos, "source %s is a multicast prefix; a source is the unicast address of a sender", p)
		return netip.Prefix{}, false
	}
	if !v.checkFamily(s.ValPos, "source", p, iface) {
		return netip.Prefix{}, false
	}
	return p, true
}

// multicastRange is the multicast range of a's family.
func multicastRange(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return multicast4
	}
	return multicast6
}

// parsePrefix accepts a canonical prefix, or a bare address as a host
// prefix. what names the value in errors.
func (v *validator) parsePrefix(s setting[string], what string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.Contains(s.Val, "/") {
		var err error
		p, err = netip.ParsePrefix(s.Val)
		if err != nil {
			v.errorf(s.ValPos, "%s %q is not a valid prefix", what, s.Val)
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s.Val)
		if err != nil || a.Zone() != "" {
			v.errorf(s.ValPos, "%s %q is not a valid prefix", what, s.Val)
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		v.errorf(s.ValPos, "%s %s is IPv4-mapped; write it as an IPv4 prefix", what, s.Val)
		return netip.Prefix{}, false
	}
	if m := p.Masked(); m != p {
		v.errorf(s.ValPos, "%s %s has host bits set; did you mean %s?", what, p, m)
		return netip.Prefix{}, false
	}
	return p, true
}

// intIn returns the value of s if it lies in [lo, hi], reporting it
// otherwise, and def if s is not set or invalid.
func (v *validator) intIn(s setting[int], name string, lo, hi, def int, why string) int {
	if !s.Set {
		return def
	}
	name = keyOr(s, name)
	if s.Val < lo || s.Val > hi {
		v.errorf(s.ValPos, "%s %d is out of range %d..%d%s", name, s.Val, lo, hi, why)
		return def
	}
	return s.Val
}

// durationIn is intIn for durations that must also be a multiple of unit
// (when unit is not zero). ok is false when a set value was reported, so that
// checks relating it to other values are skipped.
func (v *validator) durationIn(s setting[time.Duration], name string, lo, hi, unit, def time.Duration, why string) (d time.Duration, ok bool) {
	if !s.Set {
		return def, true
	}
	name = keyOr(s, name)
	if s.Val < lo || s.Val > hi {
		v.errorf(s.ValPos, "%s %s is out of range %s..%s%s", name, formatDuration(s.Val),
			formatDuration(lo), formatDuration(hi), why)
		return def, false
	}
	if unit != 0 && s.Val%unit != 0 {
		v.errorf(s.ValPos, "%s %s is not a multiple of %s%s", name, formatDuration(s.Val), formatDuration(unit), why)
		return def, false
	}
	return s.Val, true
}

// keyOr is the option's name as the user wrote it, or name.
func keyOr[T any](s setting[T], name string) string {
	if s.Key != "" {
		return s.Key
	}
	return name
}

func valueOr[T any](s setting[T], def T) T {
	if s.Set {
		return s.Val
	}
	return def
}

func posLess(a, b Pos) bool {
	return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col)
}

// lineCol is a position without its file name, for pointing at another
// place in the same file.
func lineCol(p Pos) string {
	p.File = ""
	return p.String()
}

// sortErrors orders errors by position, keeping the order of errors at the
// same position.
func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool { return posLess(es[i].Pos, es[j].Pos) })
}
