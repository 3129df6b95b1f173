package proxy

import "net/netip"

// testSetup is a proxy with its links already in place. Production has one
// way in, SetUpstream and AddDownstream, which start a link at once; the
// tables build the links first and start them all with Start at their own
// literal time, as they were written to.
type testSetup struct {
	Config
	Upstream        Link
	UpstreamSources []netip.Prefix
	UpstreamACL     Policy
	Downstreams     []Downstream
}

func newTestProxy(s testSetup) *Proxy {
	p := New(s.Config)
	p.up, p.upSources, p.upACL = s.Upstream, s.UpstreamSources, s.UpstreamACL
	for _, d := range s.Downstreams {
		p.addDownstream(d)
	}
	return p
}
