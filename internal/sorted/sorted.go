// Package sorted sorts the few kinds of lists the daemon orders for people
// and for determinism: names (a map's keys, counter kinds, interfaces) and
// the short lists of a route's outputs.
//
// It exists for the binary's size. Every element type given to slices.Sort
// or slices.Sorted compiles a pdqsort of its own (about 8 KB of code and
// pc tables on MIPS for strings, 6 KB for ints); sort.Slice's is in the
// binary already, shared by every type it sorts. Short lists of ints are
// sorted by insertion, which allocates nothing (sort.Slice boxes its list),
// for the report path.
package sorted

import "sort"

// Keys returns the keys of m in increasing order.
func Keys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	Strings(keys)
	return keys
}

// Strings sorts a in increasing order.
func Strings(a []string) {
	sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
}

// SmallInts sorts a in increasing order by insertion, allocating nothing:
// for lists of a few tens at most (a route's outputs, up to 32).
func SmallInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
