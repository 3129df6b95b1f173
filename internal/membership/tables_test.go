package membership

import (
	"testing"
	"time"
)

const (
	G  = "239.1.1.1"
	s1 = "10.1.0.1"
	s2 = "10.1.0.2"
	s3 = "10.1.0.3"
	s4 = "10.1.0.4"
	s5 = "10.1.0.5"
)

// Setups at t0 for the tables below.
var (
	// INCLUDE({s1,s2}), timers GMI.
	setupInclude = step{0, report(3, rec(IsInclude, G, s1, s2)), acts(changed(G))}
	// EXCLUDE(X={s1,s2}, Y={s3,s5}), group timer GMI.
	setupExclude = step{0, report(3, rec(IsExclude, G, s3, s5), rec(Allow, G, s1, s2)), acts(changed(G))}
)

// TestCurrentStateRecords covers every row of RFC 3376 §6.4.1.
func TestCurrentStateRecords(t *testing.T) {
	runCases(t, []routerCase{{
		name: "INCLUDE(A) IS_IN(B): INCLUDE(A+B), (B)=GMI",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(IsInclude, G, s2, s3)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1, s2, s3}, expires: 10*time.Second + gmi,
			timers: map[string]time.Duration{s1: gmi, s2: 10*time.Second + gmi, s3: 10*time.Second + gmi}}},
	}, {
		name: "INCLUDE(A) IS_EX(B): EXCLUDE(A*B,B-A), (B-A)=0, delete (A-B), group timer=GMI",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(IsExclude, G, s2, s3)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s2}, exclude: []string{s3},
			expires: 10*time.Second + gmi, timers: map[string]time.Duration{s2: gmi, s3: zero}}},
	}, {
		name: "EXCLUDE(X,Y) IS_IN(A): EXCLUDE(X+A,Y-A), (A)=GMI",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(IsInclude, G, s3, s4)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1, s2, s3, s4}, exclude: []string{s5},
			expires: gmi, timers: map[string]time.Duration{s1: gmi, s3: 10*time.Second + gmi, s4: 10*time.Second + gmi, s5: zero}}},
	}, {
		name: "EXCLUDE(X,Y) IS_EX(A): EXCLUDE(A-Y,Y*A), (A-X-Y)=GMI, delete (X-A),(Y-A), group timer=GMI",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(IsExclude, G, s2, s3, s4)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s2, s4}, exclude: []string{s3},
			expires: 10*time.Second + gmi, timers: map[string]time.Duration{s2: gmi, s3: zero, s4: 10*time.Second + gmi}}},
	}, {
		name: "EXCLUDE(X,Y) IS_EX(A) touching only the requested list is no forwarding change",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(IsExclude, G, s2, s3, s4, s5)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s2, s4}, exclude: []string{s3, s5},
			expires: 10*time.Second + gmi}},
	}})
}

// TestStateChangeRecords covers every row of RFC 3376 §6.4.2, with the
// queries of §6.6.3 and what happens when they go unanswered.
func TestStateChangeRecords(t *testing.T) {
	runCases(t, []routerCase{{
		name: "INCLUDE(A) ALLOW(B): INCLUDE(A+B), (B)=GMI",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(Allow, G, s2, s3)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1, s2, s3}, expires: 10*time.Second + gmi,
			timers: map[string]time.Duration{s1: gmi, s2: 10*time.Second + gmi, s3: 10*time.Second + gmi}}},
	}, {
		name: "INCLUDE(A) BLOCK(B): INCLUDE(A), Send Q(G,A*B), unanswered source expires",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(Block, G, s2, s3)), acts(q(G, false, s2))},
			{11 * time.Second, advance(), acts(q(G, false, s2))},
			{12 * time.Second, advance(), acts(changed(G))},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: gmi}},
	}, {
		name: "INCLUDE(A) TO_EX(B): EXCLUDE(A*B,B-A), (B-A)=0, delete (A-B), Send Q(G,A*B), group timer=GMI",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(ToExclude, G, s2, s3)), acts(q(G, false, s2), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s2}, exclude: []string{s3},
			expires: 10*time.Second + gmi, timers: map[string]time.Duration{s2: 10*time.Second + lmqt, s3: zero}}},
	}, {
		name: "INCLUDE(A) TO_EX(B) unanswered: queried source moves to the exclude list",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(ToExclude, G, s2, s3)), acts(q(G, false, s2), changed(G))},
			{11 * time.Second, advance(), acts(q(G, false, s2))},
			{12 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s2, s3}, expires: 10*time.Second + gmi}},
	}, {
		name: "INCLUDE(A) TO_IN(B): INCLUDE(A+B), (B)=GMI, Send Q(G,A-B)",
		steps: []step{
			setupInclude,
			{10 * time.Second, report(3, rec(ToInclude, G, s2, s3)), acts(q(G, false, s1), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1, s2, s3}, expires: 10*time.Second + gmi,
			timers: map[string]time.Duration{s1: 10*time.Second + lmqt, s2: 10*time.Second + gmi, s3: 10*time.Second + gmi}}},
	}, {
		name: "EXCLUDE(X,Y) ALLOW(A): EXCLUDE(X+A,Y-A), (A)=GMI",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(Allow, G, s3, s4)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1, s2, s3, s4}, exclude: []string{s5}, expires: gmi,
			timers: map[string]time.Duration{s1: gmi, s3: 10*time.Second + gmi, s4: 10*time.Second + gmi}}},
	}, {
		name: "EXCLUDE(X,Y) BLOCK(A): EXCLUDE(X+(A-Y),Y), (A-X-Y)=group timer, Send Q(G,A-Y)",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(Block, G, s2, s3, s4)), acts(q(G, false, s2, s4))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1, s2, s4}, exclude: []string{s3, s5}, expires: gmi,
			timers: map[string]time.Duration{s1: gmi, s2: 10*time.Second + lmqt, s3: zero, s4: 10*time.Second + lmqt}}},
	}, {
		name: "EXCLUDE(X,Y) BLOCK(A) of a new source with group timer below LMQT: not queried",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(ToInclude, G)), acts(q(G, false, s1, s2), q(G, false))},
			{sec(10.5), report(3, rec(Block, G, s4)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1, s2, s4}, exclude: []string{s3, s5}, expires: 10*time.Second + lmqt,
			timers: map[string]time.Duration{s4: 10*time.Second + lmqt}}},
	}, {
		name: "EXCLUDE(X,Y) TO_EX(A): EXCLUDE(A-Y,Y*A), (A-X-Y)=group timer, delete (X-A),(Y-A), Send Q(G,A-Y), group timer=GMI",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(ToExclude, G, s2, s3, s4)), acts(q(G, false, s2, s4), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s2, s4}, exclude: []string{s3}, expires: 10*time.Second + gmi,
			timers: map[string]time.Duration{s2: 10*time.Second + lmqt, s3: zero, s4: 10*time.Second + lmqt}}},
	}, {
		name: "EXCLUDE(X,Y) TO_IN(A): EXCLUDE(X+A,Y-A), (A)=GMI, Send Q(G,X-A), Send Q(G)",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(ToInclude, G, s2, s3)), acts(q(G, false, s1), q(G, false), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1, s2, s3}, exclude: []string{s5},
			expires: 10*time.Second + lmqt,
			timers:  map[string]time.Duration{s1: 10*time.Second + lmqt, s2: 10*time.Second + gmi, s3: 10*time.Second + gmi}}},
	}, {
		name: "EXCLUDE(X,Y) TO_IN(A) unanswered: group timer expiry switches to INCLUDE with running sources (§6.5)",
		steps: []step{
			setupExclude,
			{10 * time.Second, report(3, rec(ToInclude, G, s2, s3)), acts(q(G, false, s1), q(G, false), changed(G))},
			{11 * time.Second, advance(), acts(q(G, false, s1), q(G, false))},
			{12 * time.Second, advance(), acts(changed(G))},
			{30 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s2, s3}, expires: 10*time.Second + gmi}},
	}})
}
