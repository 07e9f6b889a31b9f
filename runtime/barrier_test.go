//go:build linux || windows

package mp_test

import (
	"slices"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestTargetsBarrierOfFour(t *testing.T) {
	b, err := mp.NewBarrier(4)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, b)
	const rounds = 10
	var ps []*mp.Process
	for range 4 {
		ps = append(ps, start(t, &mp.Process{Target: targets.MeetAtBarrier, Args: []any{b, rounds}}))
	}
	var all [rounds][]int
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		res, _ := p.Result()
		idx := res.([]int)
		for r, i := range idx {
			all[r] = append(all[r], i)
		}
	}
	for r, idx := range all {
		slices.Sort(idx)
		if !slices.Equal(idx, []int{0, 1, 2, 3}) {
			t.Fatalf("round %d: arrival indices %v", r, idx)
		}
	}
}

// Four processes pass a barrier together, round after round; none passes
// before all arrived, and each round's arrival indices are 0..3.
func TestBarrierFourProcesses(t *testing.T) {
	const parties, rounds = 4, 20
	b := made(mp.NewBarrier(parties))(t)
	a := made(mp.NewArray[int32](4 + rounds*4))(t)
	var ps []*mp.Process
	for id := range parties {
		ps = append(ps, start(t, &mp.Process{Target: targets.BarrierRounds, Args: []any{b, a, id, rounds}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	s := a.Slice()
	for r := range rounds {
		seen := map[int32]bool{}
		for id := range parties {
			seen[s[4+r*4+id]] = true
		}
		if len(seen) != parties || !seen[0] || !seen[parties-1] {
			t.Fatalf("round %d: arrival indices %v", r, s[4+r*4:8+r*4])
		}
	}
	if b.Broken() || b.NWaiting() != 0 {
		t.Fatalf("after the rounds: broken %v, waiting %d", b.Broken(), b.NWaiting())
	}
}
