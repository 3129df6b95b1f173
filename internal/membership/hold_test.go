package membership

import (
	"testing"
	"time"
)

// TestReportsLostHoldsExpiry: while the daemon drops reports under a flood,
// a member whose reports were pushed out must not be cut: nothing expires
// until a query interval and a response interval after the last loss; then
// expiry resumes.
func TestReportsLostHoldsExpiry(t *testing.T) {
	runCases(t, []routerCase{{
		name: "a group whose timer runs out during the hold is kept until it ends",
		steps: []step{
			{0, report(3, rec(IsExclude, G), rec(IsInclude, "239.1.1.2", s1)), acts(changed(G), changed("239.1.1.2"))},
			{gmi - time.Second, func(r *Router, now time.Time) []Action { r.ReportsLost(now); return nil }, nil},
			// Hold until gmi - 1s + 125s + 10s.
			{gmi, advance(), nil},
			{gmi + 133*time.Second, advance(), nil},
			{gmi + 134*time.Second, advance(), acts(changed(G), changed("239.1.1.2"))},
		},
		groups: []groupCheck{{group: G, absent: true}, {group: "239.1.1.2", absent: true}},
	}, {
		name: "a report during the hold refreshes as usual",
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, func(r *Router, now time.Time) []Action { r.ReportsLost(now); return nil }, nil},
			{100 * time.Second, report(3, rec(IsExclude, G)), nil},
			{100*time.Second + gmi, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}})
}

// TestReportsWaitingHoldsExpiry: while reports wait unread in the daemon's
// queue, a member whose report is among them must not be cut before it is
// read: nothing expires until the hold the daemon gave (here a second)
// after it last said so.
func TestReportsWaitingHoldsExpiry(t *testing.T) {
	waiting := func(r *Router, now time.Time) []Action { r.ReportsWaiting(now, time.Second); return nil }
	runCases(t, []routerCase{{
		name: "a group whose timer runs out while reports wait is kept until the hold ends",
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{gmi - 100*time.Millisecond, waiting, nil},
			{gmi, advance(), nil},
			{gmi + 800*time.Millisecond, waiting, nil},
			{gmi + 1700*time.Millisecond, advance(), nil},
			{gmi + 1800*time.Millisecond, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "the report read late refreshes the group",
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{gmi - 100*time.Millisecond, waiting, nil},
			{gmi + 500*time.Millisecond, report(3, rec(IsExclude, G)), nil},
			{gmi + 500*time.Millisecond + gmi - time.Millisecond, advance(), nil},
			{2*gmi + 500*time.Millisecond, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "without a queue the timer runs out on time",
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{gmi - 2*time.Second, waiting, nil},
			{gmi, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}})
}

// TestExpiryHeldUntil: the end of the hold, as status shows it, is the later
// of the holds given, and is not in the future once expiry runs again.
func TestExpiryHeldUntil(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	now := at(time.Minute)
	r.Start(now)
	if held := r.ExpiryHeldUntil(); held.After(now) {
		t.Fatalf("held until %v at the start, want no hold", held)
	}
	r.ReportsWaiting(now, time.Second)
	if held := r.ExpiryHeldUntil(); !held.Equal(now.Add(time.Second)) {
		t.Fatalf("held until %v after reports waited a second, want %v", held, now.Add(time.Second))
	}
	r.ReportsLost(now)
	lost := now.Add(125*time.Second + 10*time.Second) // query interval and query response interval
	if held := r.ExpiryHeldUntil(); !held.Equal(lost) {
		t.Fatalf("held until %v after reports were lost, want %v", held, lost)
	}
	r.ReportsWaiting(now.Add(time.Second), time.Second)
	if held := r.ExpiryHeldUntil(); !held.Equal(lost) {
		t.Fatalf("a shorter hold moved the end to %v, want %v", held, lost)
	}
}
