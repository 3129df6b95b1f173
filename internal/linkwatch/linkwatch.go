// Package linkwatch follows the host's links and addresses. Netlink
// notifications are only a hint that something changed: the watcher coalesces
// them, takes a fresh snapshot of every link and address, and reports the
// difference to the last snapshot it delivered. A lost notification therefore
// costs nothing but a re-snapshot.
package linkwatch

import (
	"net/netip"
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// Link is one network interface as a snapshot saw it.
type Link struct {
	Index int
	Name  string
	// Up is IFF_UP and IFF_RUNNING: administratively up and operationally up
	// (or unknown) with carrier, so usable for multicast.
	Up bool
	// Flags are the raw IFF_* flags.
	Flags uint32
	// Addrs are all addresses of both families, link-local included, each
	// with its prefix length, sorted.
	Addrs []netip.Prefix
}

func (l Link) equal(m Link) bool {
	return l.Index == m.Index && l.Name == m.Name && l.Up == m.Up && l.Flags == m.Flags &&
		slices.Equal(l.Addrs, m.Addrs)
}

// Snapshot holds the links by name: the daemon configures names, and indexes
// change when an interface is deleted and recreated (PPPoE reconnects).
type Snapshot map[string]Link

// Change is the difference between two snapshots, for the names that changed.
// Each list is sorted by name.
type Change struct {
	Added   []Link // names not present before
	Removed []Link // names gone, as they were
	Changed []LinkChange
}

// LinkChange is a name present in both snapshots whose index, up state, flags
// or addresses differ. Old.Index != New.Index means the interface was deleted
// and recreated under the same name between the two snapshots.
type LinkChange struct {
	Old, New Link
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// Diff returns what changed from old to new.
func Diff(old, new Snapshot) Change {
	var c Change
	for _, name := range sorted.Keys(new) {
		n := new[name]
		o, ok := old[name]
		switch {
		case !ok:
			c.Added = append(c.Added, n)
		case !o.equal(n):
			c.Changed = append(c.Changed, LinkChange{Old: o, New: n})
		}
	}
	for _, name := range sorted.Keys(old) {
		if _, ok := new[name]; !ok {
			c.Removed = append(c.Removed, old[name])
		}
	}
	return c
}

// comparePrefix orders by address, then prefix length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
