package mroute

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// record is what a Socket remembers of its kernel multicast routing
// table: the interface slots (VIFs, MIFs for IPv6) and the routes it
// installed. The bookkeeping is the same for both families; only the socket
// options differ, and those sit behind kernel. A record has no lock of its own:
// its owner's mutex guards it.
type record struct {
	kernel kernelTable
	slot   string // "vif" or "mif", for error messages

	closed bool                   // the owner's Close has run
	v4     bool                   // the routes are IPv4 ones
	slots  [MaxVIFs]vifEntry      // installed slots
	routes map[routeKey]installed // installed MFC entries

	// ttls is addMFC's working memory: passed through the kernelTable
	// interface, a local array would be moved to the heap on every call.
	ttls [MaxVIFs]uint8
}

// kernelTable issues one family's MRT(6)_ADD/DEL_VIF(MIF)/MFC socket options.
type kernelTable interface {
	addVIF(slot, ifindex, threshold int) error
	delVIF(slot, ifindex int) error
	// addMFC installs (src,grp) arriving on slot parent; ttls holds the
	// threshold of every output slot and 0 for the others, and is the
	// record's to reuse once the call returns.
	addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error
	delMFC(src, grp netip.Addr) error
}

type vifEntry struct {
	ifindex   int // 0 marks a free slot
	threshold int // at least 1
}

// routeKey is an installed entry's source and group as 16 bytes each
// (IPv4 as IPv4-mapped IPv6): 32 bytes where two netip.Addr take 48 on
// 64-bit machines, in the record's map of every installed entry.
type routeKey struct{ src, grp [16]byte }

func keyOf(src, grp netip.Addr) routeKey { return routeKey{src.As16(), grp.As16()} }

// addrs returns the key's source and group in the record's family.
func (rec *record) addrs(k routeKey) (src, grp netip.Addr) {
	if rec.v4 {
		return netip.AddrFrom4([4]byte(k.src[12:])), netip.AddrFrom4([4]byte(k.grp[12:]))
	}
	return netip.AddrFrom16(k.src), netip.AddrFrom16(k.grp)
}

// installed is an installed MFC entry less its key, in slots: a thousand
// groups keep a thousand of them, so it is 8 bytes where the interfaces'
// ifindexes took a slice header and an array of their own. A slot stands
// for its interface as long as the route is recorded: delVIF takes the
// slot out of every route before it frees it.
type installed struct {
	input   uint8  // the input's slot
	outputs uint32 // bit n: slot n is an output; never the input's
}

// Slots must fit installed.outputs.
var _ [32 - MaxVIFs]struct{}

// route returns the entry as a Route of ifindexes, its outputs sorted and
// appended to outputs (nil: a list of their own).
func (rec *record) route(k routeKey, in installed, outputs []int) Route {
	src, grp := rec.addrs(k)
	r := Route{Source: src, Group: grp, Input: rec.slots[in.input].ifindex}
	start := len(outputs)
	for slot := range MaxVIFs {
		if in.outputs&(1<<slot) != 0 {
			outputs = append(outputs, rec.slots[slot].ifindex)
		}
	}
	if len(outputs) > start {
		r.Outputs = outputs[start:len(outputs):len(outputs)]
		sorted.SmallInts(r.Outputs)
	}
	return r
}

// installed maps the interfaces of r to slots; outputs that repeat or are
// the input count once or not at all.
func (rec *record) installed(r Route) (installed, error) {
	parent, ok := rec.lookup(r.Input)
	if !ok {
		return installed{}, format.Errorf("input ifindex %d has no %s", r.Input, rec.slot)
	}
	in := installed{input: uint8(parent)}
	for _, o := range r.Outputs {
		if o == r.Input {
			continue
		}
		slot, ok := rec.lookup(o)
		if !ok {
			return installed{}, format.Errorf("output ifindex %d has no %s", o, rec.slot)
		}
		in.outputs |= 1 << slot
	}
	return in, nil
}

// newRecord returns the record of a family's table, whose slots are called
// slot: "vif" (IPv4) or "mif" (IPv6).
func newRecord(kernel kernelTable, slot string) record {
	return record{kernel: kernel, slot: slot, v4: slot == "vif", routes: make(map[routeKey]installed)}
}

// close removes every route, then every slot, and marks the record closed.
func (rec *record) close() []error {
	rec.closed = true
	var errs []error
	for k := range rec.routes {
		src, grp := rec.addrs(k)
		if err := rec.kernel.delMFC(src, grp); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, format.Errorf("mroute: close: delete route (%s,%s): %w", src, grp, err))
		}
	}
	clear(rec.routes)
	for slot, e := range rec.slots {
		if e.ifindex == 0 {
			continue
		}
		err := rec.kernel.delVIF(slot, e.ifindex)
		// EADDRNOTAVAIL: the kernel already dropped the slot with its interface.
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, format.Errorf("mroute: close: delete %s %d (ifindex %d): %w", rec.slot, slot, e.ifindex, err))
		}
		rec.slots[slot] = vifEntry{}
	}
	return errs
}

// addVIF puts ifindex, already checked, in the lowest free slot; see
// Socket.AddVIF.
func (rec *record) addVIF(ifindex, threshold int) (int, error) {
	if rec.closed {
		return 0, format.Errorf("mroute: add %s for ifindex %d: %w", rec.slot, ifindex, os.ErrClosed)
	}
	if slot, ok := rec.lookup(ifindex); ok {
		return slot, nil
	}
	slot := slices.IndexFunc(rec.slots[:], func(e vifEntry) bool { return e.ifindex == 0 })
	if slot < 0 {
		return 0, format.Errorf("mroute: add %s for ifindex %d: all %d %ss of the kernel table are in use", rec.slot, ifindex, MaxVIFs, rec.slot)
	}
	if err := rec.kernel.addVIF(slot, ifindex, threshold); err != nil {
		return 0, format.Errorf("mroute: add %s %d for ifindex %d: %w", rec.slot, slot, ifindex, err)
	}
	rec.slots[slot] = vifEntry{ifindex: ifindex, threshold: max(threshold, 1)}
	return slot, nil
}

// delVIF removes the slot of ifindex and what routes it; see Socket.DelVIF.
func (rec *record) delVIF(ifindex int) error {
	if rec.closed {
		return format.Errorf("mroute: delete %s for ifindex %d: %w", rec.slot, ifindex, os.ErrClosed)
	}
	slot, ok := rec.lookup(ifindex)
	if !ok {
		return nil
	}
	var errs []error
	for k, in := range rec.routes {
		src, grp := rec.addrs(k)
		switch {
		case int(in.input) == slot:
			if err := rec.kernel.delMFC(src, grp); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, format.Errorf("mroute: delete %s for ifindex %d: delete route (%s,%s): %w", rec.slot, ifindex, src, grp, err))
			}
			delete(rec.routes, k)
		case in.outputs&(1<<slot) != 0:
			in.outputs &^= 1 << slot
			if err := rec.install(k, in); err != nil {
				// Forget it so the daemon's next SetRoute installs it afresh.
				delete(rec.routes, k)
				errs = append(errs, format.Errorf("mroute: delete %s for ifindex %d: update route (%s,%s): %w", rec.slot, ifindex, src, grp, err))
				continue
			}
			rec.routes[k] = in
		}
	}
	err := rec.kernel.delVIF(slot, ifindex)
	// EADDRNOTAVAIL: the kernel already dropped the slot when its interface
	// went away. Any other failure may leave the kernel holding the slot:
	// it stays recorded, so no other interface is given it and a later
	// DelVIF tries again.
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		errs = append(errs, format.Errorf("mroute: delete %s %d for ifindex %d: %w", rec.slot, slot, ifindex, err))
		return errors.Join(errs...)
	}
	rec.slots[slot] = vifEntry{}
	return errors.Join(errs...)
}

// lookup returns the slot of ifindex.
func (rec *record) lookup(ifindex int) (int, bool) {
	if ifindex <= 0 {
		return 0, false
	}
	i := slices.IndexFunc(rec.slots[:], func(e vifEntry) bool { return e.ifindex == ifindex })
	return i, i >= 0
}

// ifindex returns the interface in slot, 0 for a free or unknown slot.
func (rec *record) ifindex(slot int) int {
	if slot < 0 || slot >= MaxVIFs {
		return 0
	}
	return rec.slots[slot].ifindex
}

// setRoute installs r, whose addresses are already checked and normalised;
// see Socket.SetRoute.
func (rec *record) setRoute(r Route) error {
	src, grp := r.Source, r.Group
	if rec.closed {
		return format.Errorf("mroute: set route (%s,%s): %w", src, grp, os.ErrClosed)
	}
	want, err := rec.installed(r)
	if err != nil {
		return format.Errorf("mroute: set route (%s,%s): %w", src, grp, err)
	}
	k := keyOf(src, grp)
	if have, ok := rec.routes[k]; ok && have == want {
		return nil
	}
	if err := rec.install(k, want); err != nil {
		return format.Errorf("mroute: set route (%s,%s): %w", src, grp, err)
	}
	rec.routes[k] = want
	return nil
}

// kernelHasNoRoute is told of a "no cache" upcall for (src,grp): the kernel
// holds no entry for it, whatever the record says. The record forgets it so
// that the daemon's next SetRoute installs it again instead of being skipped
// as already there; were the record ever wrong, the flow would otherwise stay
// unforwarded until something else changed it. An upcall queued before a
// route was installed costs one needless re-add, which the kernel takes as a
// replacement.
func (rec *record) kernelHasNoRoute(src, grp netip.Addr) {
	delete(rec.routes, keyOf(src, grp))
}

// install gives the kernel the entry (k, in): each output slot with its
// threshold.
func (rec *record) install(k routeKey, in installed) error {
	ttls := &rec.ttls
	for slot := range ttls {
		ttls[slot] = 0
		if in.outputs&(1<<slot) != 0 {
			ttls[slot] = uint8(rec.slots[slot].threshold)
		}
	}
	src, grp := rec.addrs(k)
	return rec.kernel.addMFC(src, grp, int(in.input), ttls)
}

// delRoute deletes (src,grp), already checked and normalised; see
// Socket.DelRoute.
func (rec *record) delRoute(src, grp netip.Addr) error {
	if rec.closed {
		return format.Errorf("mroute: delete route (%s,%s): %w", src, grp, os.ErrClosed)
	}
	err := rec.kernel.delMFC(src, grp)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return format.Errorf("mroute: delete route (%s,%s): %w", src, grp, err)
	}
	delete(rec.routes, keyOf(src, grp))
	return nil
}

// list returns the installed routes sorted by group, then source.
func (rec *record) list() []Route {
	keys := rec.keys()
	rs := make([]Route, len(keys))
	for i, k := range keys {
		rs[i], _ = rec.lookupRoute(k, nil)
	}
	return rs
}

// keys returns the keys of the installed routes sorted by group, then
// source.
func (rec *record) keys() []Key {
	ks := make([]Key, 0, len(rec.routes))
	for k := range rec.routes {
		src, grp := rec.addrs(k)
		ks = append(ks, Key{src, grp})
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Compare(ks[j]) < 0 })
	return ks
}

// lookupRoute returns the installed route k, its outputs appended to
// outputs.
func (rec *record) lookupRoute(k Key, outputs []int) (Route, bool) {
	rk := keyOf(k.Source, k.Group)
	in, ok := rec.routes[rk]
	if !ok {
		return Route{}, false
	}
	return rec.route(rk, in, outputs), true
}
