package sorted

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKeys(t *testing.T) {
	for _, m := range []map[string]int{nil, {}, {"b": 1}, {"wan": 1, "br-lan": 2, "lan": 3, "": 4, "Wan": 5}} {
		got := Keys(m)
		want := make([]string, 0, len(m))
		for k := range m {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Keys(%v) = %q, want %q", m, got, want)
		}
	}
}

func TestStringsAndSmallInts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 40 {
		ints := make([]int, n)
		strs := make([]string, n)
		for i := range ints {
			ints[i] = r.IntN(10) - 3 // repeats and negatives
			strs[i] = string(rune('a' + r.IntN(5)))
		}
		wantInts, wantStrs := slices.Sorted(slices.Values(ints)), slices.Sorted(slices.Values(strs))
		SmallInts(ints)
		Strings(strs)
		if !slices.Equal(ints, wantInts) || !slices.Equal(strs, wantStrs) {
			t.Fatalf("n=%d: %v %q, want %v %q", n, ints, strs, wantInts, wantStrs)
		}
	}
}

// TestSmallIntsAllocatesNothing: the report path sorts a route's outputs.
func TestSmallIntsAllocatesNothing(t *testing.T) {
	a := []int{5, 3, 9, 1, 4}
	if n := testing.AllocsPerRun(10, func() { SmallInts(a) }); n != 0 {
		t.Errorf("SmallInts allocated %.0f times", n)
	}
}
