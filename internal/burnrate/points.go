package burnrate

import "time"

// Point is one interval of a History as its tiers hold it: the events counted in (Start, End],
// between two consecutive boundaries held.
type Point struct {
	Start, End time.Time
	Bad, Total float64
	// Steps is the interval's length in steps, DataSteps how many of them had data (were not
	// Missing). For an interval older than the History's counts (a History decoded from the first
	// encoding, which had none), DataSteps is Steps when the interval counted events and 0
	// otherwise: a quiet interval is then shown as having no data rather than claimed good.
	Steps, DataSteps int
}

// Points returns the intervals between consecutive boundaries held, at the finest resolution the
// History keeps at each time (every step for the newest 360 steps, 10 steps for 3 days, 60 steps
// before: docs/DESIGN.md §3), whose end lies in [from, to]. The first interval held starts at
// Start(), or at the oldest boundary still held once the History has wrapped around.
func (h *History) Points(from, to time.Time) []Point {
	if !h.has {
		return nil
	}
	var out []Point
	bs := h.boundaries()
	for i := 1; i < len(bs); i++ {
		if end := h.timeOf(bs[i].m); !end.Before(from) && !end.After(to) {
			out = append(out, h.interval(bs[i-1], bs[i]))
		}
	}
	return out
}

// heldBoundary is a step boundary and the tier it is read from (-1: Start, whose sums are 0).
type heldBoundary struct {
	m int64
	k int
}

// boundaries lists the boundaries held, ascending: Start when the oldest tier still reaches it,
// then each tier's points older than the first point of the next finer tier, then every point of
// the finest tier (which holds End). Consecutive boundaries are at most 60 steps apart.
func (h *History) boundaries() []heldBoundary {
	last := len(h.tiers) - 1
	var out []heldBoundary
	if first, _ := h.held(last); first == (floorDiv(h.start, h.tiers[last].res)+1)*h.tiers[last].res {
		out = append(out, heldBoundary{m: h.start, k: -1})
	}
	for k := last; k >= 0; k-- {
		first, n := h.held(k)
		stop := h.end + 1
		if k > 0 {
			if f, nn := h.held(k - 1); nn > 0 {
				stop = f
			}
		}
		for j := 0; j < n; j++ {
			m := first + int64(j)*h.tiers[k].res
			if m >= stop {
				break
			}
			if len(out) > 0 && m <= out[len(out)-1].m {
				continue
			}
			out = append(out, heldBoundary{m: m, k: k})
		}
	}
	return out
}

// interval is the Point between two consecutive boundaries.
func (h *History) interval(a, b heldBoundary) Point {
	ca, na := h.heldAt(a)
	cb, nb := h.heldAt(b)
	p := Point{Start: h.timeOf(a.m), End: h.timeOf(b.m), Bad: nonNeg(cb.bad - ca.bad), Total: nonNeg(cb.total - ca.total),
		Steps: int(b.m - a.m)}
	switch {
	case a.m >= h.countsFrom:
		p.DataSteps = min(int(nb-na), p.Steps)
	case p.Total > 0 || p.Bad > 0:
		p.DataSteps = p.Steps
	}
	return p
}

// heldAt returns the sums and the data count at a boundary held.
func (h *History) heldAt(b heldBoundary) (cum, uint8) {
	switch {
	case b.k < 0 || b.m <= h.start:
		return cum{}, 0
	case b.m >= h.end:
		return h.cur, h.curN
	}
	t := &h.tiers[b.k]
	j := floorMod(b.m/t.res, int64(len(t.pts)))
	return t.pts[j], t.cnt[j]
}

// Between returns the bad and total events over (from, to], both rounded down to the step grid
// and to = End() at most. Where from falls inside a coarse bucket it is interpolated as Sum's far
// edge is; before Start() the sums are 0, and beyond MaxWindow they are cut at the oldest point
// held.
func (h *History) Between(from, to time.Time) (bad, total float64) {
	if !h.has {
		return 0, 0
	}
	i := min(floorDiv(to.UnixNano(), int64(h.step)), h.end)
	j := floorDiv(from.UnixNano(), int64(h.step))
	if j >= i {
		return 0, 0
	}
	a, b := h.cumAt(j), h.cumAt(i)
	return nonNeg(b.bad - a.bad), nonNeg(b.total - a.total)
}

// Clone returns a copy of h that shares nothing with it, for a reader in another goroutine.
func (h *History) Clone() *History {
	c := *h
	c.tiers = make([]tier, len(h.tiers))
	for k, t := range h.tiers {
		c.tiers[k] = tier{res: t.res, pts: append([]cum(nil), t.pts...), cnt: append([]uint8(nil), t.cnt...)}
	}
	return &c
}
