package control

import (
	"bytes"
	"cmp"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// WriteText renders st for a terminal: a header, the interfaces, the groups
// of each downstream, the upstream subscriptions, the forwarding entries and
// the non-zero counters. Lists are sorted, so equal states print the same.
// Columns hold one address per line to stay readable on 80 columns.
//
// With named proxy instances, each instance is written as its own part
// under a "Proxy NAME" heading.
func WriteText(w io.Writer, st *Status) error {
	var b bytes.Buffer
	named := slices.ContainsFunc(st.Proxies, func(p Proxy) bool { return p.Name != "" })
	if !named {
		writeInstance(&b, st, true)
	} else {
		format.Fprintf(&b, "mcast-proxy %s, up %s since %s\n", st.Version, duration(st.UptimeSeconds), st.Started.Format("2006-01-02 15:04:05 MST"))
		format.Fprintf(&b, "config %s, %d proxy instances\n", st.Config, len(st.Proxies))
		for _, p := range st.Proxies {
			name := p.Name
			if name == "" {
				name = "(default)"
			}
			table := "default"
			if p.Table != 0 {
				table = strconv.FormatUint(uint64(p.Table), 10)
			}
			up := p.Upstream
			if up == "" {
				up = "none"
			}
			format.Fprintf(&b, "\n=== Proxy %s: multicast routing table %s, upstream %s, memory %d of %d KiB\n",
				name, table, up, (p.MemoryBytes+1023)>>10, p.MemoryLimit>>10)
			writeInstance(&b, instanceStatus(st, p.Name), false)
		}
	}
	if _, err := w.Write(escapeControls(b.Bytes())); err != nil {
		return format.Errorf("control: write status: %w", err)
	}
	return nil
}

// instanceStatus is the part of st that belongs to one proxy instance.
func instanceStatus(st *Status, name string) *Status {
	out := *st
	out.Interfaces, out.Upstream, out.Routes, out.Counters = nil, nil, nil, nil
	for _, x := range st.Interfaces {
		if x.Proxy == name {
			out.Interfaces = append(out.Interfaces, x)
		}
	}
	for _, x := range st.Upstream {
		if x.Proxy == name {
			out.Upstream = append(out.Upstream, x)
		}
	}
	for _, x := range st.Routes {
		if x.Proxy == name {
			out.Routes = append(out.Routes, x)
		}
	}
	for _, x := range st.Counters {
		if x.Proxy == name {
			out.Counters = append(out.Counters, x)
		}
	}
	return &out
}

// writeInstance writes the interfaces, groups, subscriptions, forwarding
// entries and counters of st, after the daemon's header if head is set.
func writeInstance(b *bytes.Buffer, st *Status, head bool) {
	ifaces := slices.Clone(st.Interfaces)
	sort.SliceStable(ifaces, func(i, j int) bool {
		a, b := &ifaces[i], &ifaces[j]
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(roleRank(a.Role), roleRank(b.Role)), cmp.Compare(a.Name, b.Name)) < 0
	})

	table := "default"
	if st.Table != 0 {
		table = strconv.FormatUint(uint64(st.Table), 10)
	}
	if head {
		format.Fprintf(b, "mcast-proxy %s, up %s since %s\n", st.Version, duration(st.UptimeSeconds), st.Started.Format("2006-01-02 15:04:05 MST"))
		format.Fprintf(b, "config %s, multicast routing table %s\n", st.Config, table)
	}

	writeInterfaces(b, ifaces)
	for _, ifc := range ifaces {
		if ifc.Role == RoleDownstream {
			writeGroups(b, ifc)
		}
	}
	writeUpstream(b, st.Upstream)
	writeRoutes(b, st.Routes)
	writeCounters(b, st.Counters, ifaces)
}

// escapeControls writes control characters (but newlines) and invalid
// UTF-8 as \xNN. Interface names come from the kernel as well as from the
// configuration, and the kernel lets a name hold an escape sequence; printed
// raw, it would drive the operator's terminal.
func escapeControls(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || (unicode.IsControl(r) && r != '\n') {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || (unicode.IsControl(r) && r != '\n') {
			for _, c := range b[i : i+n] {
				out = format.Appendf(out, "\\x%02x", c)
			}
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

func writeInterfaces(b *bytes.Buffer, ifaces []Interface) {
	b.WriteString("\nInterfaces\n")
	if len(ifaces) == 0 {
		b.WriteString("  none\n")
		return
	}
	t := newTable(b, "INTERFACE", "FAMILY", "ROLE", "STATE", "IFINDEX", "VIF", "ADDRESSES")
	for _, ifc := range ifaces {
		ifindex := "-"
		if ifc.Ifindex > 0 {
			ifindex = strconv.Itoa(ifc.Ifindex)
		}
		vif := "-"
		if ifc.VIF >= 0 {
			vif = strconv.Itoa(ifc.VIF)
		}
		t.rows([]string{ifc.Name, ifc.Family, ifc.Role, ifc.State, ifindex, vif}, sortedAddrs(ifc.Addresses))
	}
	t.flush()
}

func writeGroups(b *bytes.Buffer, ifc Interface) {
	format.Fprintf(b, "\nGroups on %s (%s)", ifc.Name, ifc.Family)
	if q := ifc.Querier; q != nil {
		self := ""
		if q.Self {
			self = ", this router"
		}
		format.Fprintf(b, ", querier %s (%s%s)", q.Address, protocol(ifc.Family, q.Version), self)
	}
	if ifc.ExpiryHeld > 0 {
		// Reports were lost or wait unread: nothing expires meanwhile.
		// Rounded up, so that a hold of a quarter second is not "0s".
		format.Fprintf(b, ", expiry held %s", duration(math.Ceil(ifc.ExpiryHeld)))
	}
	b.WriteString("\n")
	if len(ifc.Groups) == 0 {
		b.WriteString("  none\n")
		return
	}
	groups := slices.Clone(ifc.Groups)
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Group.Less(groups[j].Group) })
	t := newTable(b, "GROUP", "MODE", "V", "EXPIRES", "SOURCES", "HOSTS")
	for _, g := range groups {
		srcs := slices.Clone(g.Sources)
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].Address.Less(srcs[j].Address) })
		var sources []string
		if g.Mode == ModeExclude {
			sources = append(sources, "any")
		}
		for _, s := range srcs {
			sources = append(sources, addrText(s.Address)+" "+duration(s.ExpiresIn))
		}
		for _, x := range addrTexts(g.Excluded) {
			sources = append(sources, "except "+x)
		}
		addrs := make([]netip.Addr, 0, len(g.Hosts))
		for _, h := range g.Hosts {
			addrs = append(addrs, h.Address)
		}
		hosts := addrTexts(addrs)
		if g.Untracked {
			hosts = append(hosts, "(untracked)")
		}
		compat := "-"
		if g.Compat > 0 {
			compat = "v" + strconv.Itoa(g.Compat)
		}
		t.rows([]string{addrText(g.Group), g.Mode, compat, duration(g.ExpiresIn)}, sources, hosts)
	}
	t.flush()
}

func writeUpstream(b *bytes.Buffer, subs []Subscription) {
	b.WriteString("\nUpstream subscriptions\n")
	if len(subs) == 0 {
		b.WriteString("  none\n")
		return
	}
	subs = slices.Clone(subs)
	sort.SliceStable(subs, func(i, j int) bool {
		a, b := &subs[i], &subs[j]
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Interface, b.Interface), a.Group.Compare(b.Group)) < 0
	})
	t := newTable(b, "INTERFACE", "GROUP", "MODE", "SOURCES")
	for _, s := range subs {
		var sources []string
		if s.Mode == ModeExclude {
			sources = append(sources, "any")
			for _, x := range addrTexts(s.Sources) {
				sources = append(sources, "except "+x)
			}
		} else {
			sources = addrTexts(s.Sources)
		}
		t.rows([]string{s.Interface, addrText(s.Group), s.Mode}, sources)
	}
	t.flush()
}

func writeRoutes(b *bytes.Buffer, routes []Route) {
	b.WriteString("\nForwarding\n")
	if len(routes) == 0 {
		b.WriteString("  none\n")
		return
	}
	routes = slices.Clone(routes)
	sort.SliceStable(routes, func(i, j int) bool {
		a, b := &routes[i], &routes[j]
		return cmp.Or(cmp.Compare(a.Family, b.Family), a.Group.Compare(b.Group), a.Source.Compare(b.Source)) < 0
	})
	t := newTable(b, "SOURCE", "GROUP", "IN", "PACKETS", "RATE", "OUT")
	for _, r := range routes {
		outs := slices.Clone(r.Outputs)
		sorted.Strings(outs)
		if len(outs) == 0 {
			outs = []string{"-"}
		}
		t.rows([]string{addrText(r.Source), addrText(r.Group), r.Input, strconv.FormatUint(r.Packets, 10), rate(r.BitsPerSecond)}, outs)
	}
	t.flush()
}

func writeCounters(b *bytes.Buffer, fams []FamilyCounters, ifaces []Interface) {
	b.WriteString("\nCounters\n")
	fams = slices.Clone(fams)
	sort.SliceStable(fams, func(i, j int) bool { return fams[i].Family < fams[j].Family })
	t := newTable(b)
	n := 0
	add := func(scope, name string, v uint64) {
		if v != 0 {
			t.rows([]string{scope, name, strconv.FormatUint(v, 10)})
			n++
		}
	}
	for _, f := range fams {
		for _, k := range sorted.Keys(f.Received) {
			add(f.Family, "received "+k, f.Received[k])
		}
		add(f.Family, "queries_sent", f.QueriesSent)
		for _, k := range sorted.Keys(f.Dropped) {
			add(f.Family, "dropped "+k, f.Dropped[k])
		}
		add(f.Family, "upcalls", f.Upcalls)
		add(f.Family, "routes_added", f.RoutesAdded)
		add(f.Family, "routes_changed", f.RoutesChanged)
		add(f.Family, "routes_removed", f.RoutesRemoved)
	}
	for _, ifc := range ifaces {
		for _, k := range sorted.Keys(ifc.Counters) {
			add(ifc.Name+"/"+ifc.Family, k, ifc.Counters[k])
		}
	}
	if n == 0 {
		b.WriteString("  none\n")
		return
	}
	t.flush()
}

// table is an indented table whose rows may carry columns of several
// lines: the extra lines continue below, other cells empty. Every line of a
// table has the same number of cells, so each column is as wide as its
// widest cell (in runes) plus two spaces, and the last column is not
// padded: what text/tabwriter makes of the same lines (minwidth 0,
// padding 2), without its 9 KB on MIPS.
type table struct {
	out   *bytes.Buffer
	lines [][]string
}

func newTable(out *bytes.Buffer, header ...string) *table {
	t := &table{out: out}
	if len(header) > 0 {
		t.line(header)
	}
	return t
}

// rows writes cells followed by columns of several lines each; an empty
// column shows "-".
func (t *table) rows(cells []string, multi ...[]string) {
	height := 1
	for _, m := range multi {
		height = max(height, len(m))
	}
	for i := range height {
		line := make([]string, 0, len(cells)+len(multi))
		for _, c := range cells {
			if i > 0 {
				c = ""
			}
			line = append(line, c)
		}
		for _, m := range multi {
			c := ""
			if i < len(m) {
				c = m[i]
			} else if i == 0 {
				c = "-"
			}
			line = append(line, c)
		}
		t.line(line)
	}
}

// line adds one line, indented by two spaces.
func (t *table) line(cells []string) {
	line := slices.Clone(cells)
	line[0] = "  " + line[0]
	t.lines = append(t.lines, line)
}

// flush aligns the table and writes it out, without trailing spaces.
func (t *table) flush() {
	var width []int
	for _, line := range t.lines {
		for k, c := range line[:len(line)-1] {
			if k == len(width) {
				width = append(width, 0)
			}
			width[k] = max(width[k], utf8.RuneCountInString(c)+2)
		}
	}
	for _, line := range t.lines {
		start := t.out.Len()
		for k, c := range line {
			t.out.WriteString(c)
			if k < len(line)-1 {
				for range width[k] - utf8.RuneCountInString(c) {
					t.out.WriteByte(' ')
				}
			}
		}
		t.out.Truncate(start + len(bytes.TrimRight(t.out.Bytes()[start:], " ")))
		t.out.WriteByte('\n')
	}
	t.lines = t.lines[:0]
}

func roleRank(role string) int {
	if role == RoleUpstream {
		return 0
	}
	return 1
}

// compareAddr orders addresses numerically, anything unparsable after them
// by text.
func compareAddr(a, b string) int {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	switch {
	case errx == nil && erry == nil:
		return x.Compare(y)
	case errx == nil:
		return -1
	case erry == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

func sortedAddrs(addrs []string) []string {
	addrs = slices.Clone(addrs)
	sort.SliceStable(addrs, func(i, j int) bool { return compareAddr(addrs[i], addrs[j]) < 0 })
	return addrs
}

// addrTexts returns addrs sorted, as text.
func addrTexts(addrs []netip.Addr) []string {
	addrs = slices.Clone(addrs)
	slices.SortFunc(addrs, netip.Addr.Compare)
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = addrText(a)
	}
	return out
}

// addrText is a's text as the JSON document has it: "" for none.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func protocol(family string, version int) string {
	if family == FamilyIPv6 {
		return "MLDv" + strconv.Itoa(version)
	}
	return "IGMPv" + strconv.Itoa(version)
}

// duration renders seconds to the second, "-" for none.
func duration(sec float64) string {
	if sec <= 0 {
		return "-"
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}

func rate(bps float64) string {
	switch {
	case bps >= 1e9:
		return format.Sprintf("%.1f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return format.Sprintf("%.1f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return format.Sprintf("%.1f kbit/s", bps/1e3)
	}
	return format.Sprintf("%.0f bit/s", bps)
}
