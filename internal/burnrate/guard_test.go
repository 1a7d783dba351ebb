package burnrate

import (
	"reflect"
	"testing"
)

// At one request a minute a single failed request is a burn rate of 60 over the page's 1h window
// (1/60 against a 0.1% budget): the workbook's policy pages for it. MinBadEvents makes a pair hold
// only when its long window also counts that many bad events, so the lone errors stay quiet while
// an outage at the same traffic still pages once the long window has counted enough of them.
func TestMinBadEventsGuard(t *testing.T) {
	lowTraffic := func(bad map[int]bool) func(i int) Increment {
		return func(i int) Increment {
			if bad[i] {
				return Increment{Bad: 1, Total: 1}
			}
			return Increment{Total: 1}
		}
	}
	single := map[int]bool{300: true, 700: true}
	outage := map[int]bool{}
	for i := 500; i < 530; i++ {
		outage[i] = true
	}
	pages := func(trs []stepTransition) []interval {
		var out []interval
		for _, iv := range intervals(trs) {
			if iv.sev == Page {
				out = append(out, iv)
			}
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		minBad float64
		bad    map[int]bool
		want   []interval
	}{
		// 1 bad of 60 in the 1h window, 1 of 5 in the 5m: both above 14.4 × 0.001. It pages
		// until the 5m window forgets the error.
		{"single errors without the guard", 0, single, []interval{{Page, false, 300, 305}, {Page, false, 700, 705}}},
		{"single errors with the guard", 5, single, nil},
		// A 30-minute outage: 5 bad events in the long window at its fifth minute; it resolves when
		// the 6h/30m pair's short window has forgotten it.
		{"outage without the guard", 0, outage, []interval{{Page, false, 500, 559}}},
		{"outage with the guard", 5, outage, []interval{{Page, false, 504, 559}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPolicy()
			p.MinBadEvents = tt.minBad
			got := pages(simulate(t, p, 800, lowTraffic(tt.bad), nil))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("page intervals %v, want %v", got, tt.want)
			}
		})
	}
}
