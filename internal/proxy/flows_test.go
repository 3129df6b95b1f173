package proxy

import (
	"net/netip"
	"slices"
	"testing"
)

// TestFlowsOfOneGroup: a group's flows are kept sorted by source whatever
// order the sources arrive in, and removing some of them (the middle, both
// ends, all) leaves the others found and counted.
func TestFlowsOfOneGroup(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	up1, up2, up3, up4 := a("10.0.0.2"), a("10.0.0.3"), a("10.0.0.4"), a("10.0.0.5")
	lanA, lanB, lan2A := a("192.168.1.20"), a("192.168.1.30"), a("192.168.2.20")
	type src struct {
		addr    netip.Addr
		ifindex int
	}
	tests := []struct {
		name     string
		sources  []src // in the order the kernel reports them
		act      func(p *Proxy) []Action
		wantDel  []netip.Addr // the sources of the DelRoute actions, in order
		wantLeft []netip.Addr // the flows left, by source
	}{
		{
			name:     "any arrival order is kept sorted",
			sources:  []src{{up3, upIf}, {up1, upIf}, {up4, upIf}, {up2, upIf}},
			act:      func(*Proxy) []Action { return nil },
			wantLeft: []netip.Addr{up1, up2, up3, up4},
		},
		{
			name:    "silent flows at both ends and in the middle age out",
			sources: []src{{up4, upIf}, {up2, upIf}, {up1, upIf}, {up3, upIf}},
			act: func(p *Proxy) []Action {
				first := map[Flow]uint64{}
				for _, s := range []netip.Addr{up1, up2, up3, up4} {
					first[Flow{Source: s, Group: grp}] = 5
				}
				p.Counters(t0, first)
				return p.Counters(t0, map[Flow]uint64{
					{Source: up1, Group: grp}: 5, {Source: up2, Group: grp}: 9,
					{Source: up3, Group: grp}: 5, {Source: up4, Group: grp}: 5})
			},
			wantDel:  []netip.Addr{up1, up3, up4},
			wantLeft: []netip.Addr{up2},
		},
		{
			name:    "a removed downstream takes its flows, the others stay",
			sources: []src{{lanB, lanIf}, {lan2A, lan2If}, {lanA, lanIf}, {up1, upIf}},
			act: func(p *Proxy) []Action {
				return p.RemoveDownstream(t0, lanIf)
			},
			wantDel:  []netip.Addr{lanA, lanB},
			wantLeft: []netip.Addr{up1, lan2A},
		},
		{
			name:    "no upstream any more removes every upstream flow",
			sources: []src{{up2, upIf}, {lanA, lanIf}, {up1, upIf}},
			act: func(p *Proxy) []Action {
				return p.SetUpstream(t0, Link{}, nil, nil)
			},
			wantDel:  []netip.Addr{up1, up2},
			wantLeft: []netip.Addr{lanA},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProxy()
			p.SetUpstream(t0, Link{Ifindex: upIf, Name: "up0", Addr: netip.MustParseAddr("10.0.0.1")},
				[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, nil)
			for _, s := range tt.sources {
				if len(only[SetRoute](p.SourceActive(t0, s.ifindex, s.addr, grp))) != 1 {
					t.Fatalf("source %s: no forwarding entry", s.addr)
				}
			}
			var del []netip.Addr
			for _, d := range only[DelRoute](tt.act(p)) {
				del = append(del, d.Source)
			}
			if !slices.Equal(del, tt.wantDel) {
				t.Errorf("removed %v, want %v", del, tt.wantDel)
			}
			var left []netip.Addr
			for _, f := range p.Flows() {
				left = append(left, f.Source)
			}
			if !slices.Equal(left, tt.wantLeft) {
				t.Errorf("flows left %v, want %v", left, tt.wantLeft)
			}
			if p.nflow != len(tt.wantLeft) {
				t.Errorf("%d flows counted, want %d", p.nflow, len(tt.wantLeft))
			}
			// Every flow left is found: the kernel losing its entry
			// brings the same flow back, not a second one.
			for _, s := range tt.wantLeft {
				p.SourceActive(t0, p.flowInput(s, grp), s, grp)
			}
			if p.nflow != len(tt.wantLeft) || len(p.Flows()) != len(tt.wantLeft) {
				t.Errorf("after the kernel lost the entries: %d flows counted, %v listed, want %v", p.nflow, p.Flows(), tt.wantLeft)
			}
		})
	}
}

// flowInput is the input of the flow of src to grp; 0 if none.
func (p *Proxy) flowInput(src, grp netip.Addr) int {
	fs := p.flowsOf(grp)
	if i, ok := findFlow(fs, src); ok {
		return fs[i].input
	}
	return 0
}
