package burnrate

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// tierSpecs are the resolutions of History's tiers, in steps, and the span (in steps) each tier
// covers before the next, coarser one takes over. At the default 1m step that is 1m for 6h, 10m
// for 3d and 1h beyond (docs/DESIGN.md §3): every page window of the default policy and the 2h/6h
// ticket short windows are exact, the 1d window is off by at most part of one 10m bucket (0.7%) and
// a 30d window by at most part of one 1h bucket (0.14%). The last tier has no span of its own: it
// covers whatever maxWindow needs.
var tierSpecs = [...]struct{ res, span int64 }{
	{res: 1, span: 360},
	{res: 10, span: 4320},
	{res: 60, span: 0},
}

// maxHistorySteps bounds maxWindow/step. It protects UnmarshalBinary from allocating gigabytes for
// corrupt input; 2^24 steps is 30d at a 155ms step, far finer than any SLI is evaluated.
const maxHistorySteps = 1 << 24

// cum is a cumulative (bad, total) pair: the sums of all increments from Start() to a step boundary.
type cum struct{ bad, total float64 }

// tier is a ring buffer of cumulative sums at the step boundaries that are multiples of res steps
// (counted from the Unix epoch). The boundary m is at position (m/res) mod len(pts).
type tier struct {
	res int64
	pts []cum
	// cnt[j] is the number of steps with data from Start to the boundary of pts[j], modulo 256.
	// Consecutive boundaries of any tiers are at most 60 steps apart, so the difference of two
	// counts says how many steps between them had data (a Missing step counts 0 events, as a step
	// without traffic does: only this tells them apart) for 1 byte a point instead of 8.
	cnt []uint8
}

// History holds the cumulative bad and total event counts of one SLI at step boundaries, in tiers
// of decreasing resolution, so that the sum over any window is Cum(End) − Cum(End − w): two
// lookups by index arithmetic, whatever the window's length (docs/DESIGN.md §3).
//
// Cumulative sums are float64 counted from Start(), so a sum's rounding error is about 1e-16 of the
// events counted since Start() — 0.001 events after 10^13 events.
//
// Step boundaries are numbered by their distance from the Unix epoch in steps; all bookkeeping is
// in those indices. A History is not safe for concurrent use.
type History struct {
	step      time.Duration
	maxWindow time.Duration
	maxSteps  int64
	tiers     []tier

	// has is false until the first Append. Cum(i) is 0 for every boundary i <= start (data before
	// the first step held does not exist), and cur is Cum(end).
	has        bool
	start, end int64
	cur        cum
	// hasData is false until a step that was not Missing is appended; lastData is its end.
	hasData  bool
	lastData int64
	// curN is the count of steps with data at end (modulo 256, as tier.cnt). countsFrom is the
	// boundary from which the counts are known: Start for a History built by Append, End at the
	// time of decoding for one decoded from the first encoding, which had no counts.
	curN       uint8
	countsFrom int64
}

// NewHistory returns an empty History for increments of length step, able to sum windows up to
// maxWindow (the SLO period or its longest alert window, whichever is longer). A non-positive step
// is taken as 1m (slod's default step) and a maxWindow shorter than step as one step, so that the
// constructor cannot fail; callers validate durations when loading rules.
//
// Capacities follow from step and maxWindow: a tier is kept only if windows reach past the span of
// the finer one, and the last tier holds ceil(maxWindow/res)+1 points, so the far edge of a window
// of maxWindow always falls inside it. For 30d at 1m: 361 + 433 + 721 points, 24 KiB of sums and
// 1.5 KiB of counts.
func NewHistory(step, maxWindow time.Duration) *History {
	if step <= 0 {
		step = time.Minute
	}
	if maxWindow < step {
		maxWindow = step
	}
	h := &History{step: step, maxWindow: maxWindow}
	h.maxSteps = ceilDiv(int64(maxWindow), int64(step))
	for k, s := range tierSpecs {
		last := k == len(tierSpecs)-1 || h.maxSteps <= s.span
		span := s.span
		if last {
			span = h.maxSteps
		}
		// span/res buckets need span/res + 1 boundaries; a window's far edge may fall anywhere in
		// the oldest bucket, hence the ceiling.
		n := ceilDiv(span, s.res) + 1
		h.tiers = append(h.tiers, tier{res: s.res, pts: make([]cum, n), cnt: make([]uint8, n)})
		if last {
			break
		}
	}
	return h
}

// Step is the length of one increment.
func (h *History) Step() time.Duration { return h.step }

// MaxWindow is the longest window Sum answers exactly up to one coarse bucket.
func (h *History) MaxWindow() time.Duration { return h.maxWindow }

// Start is the start of the first step held (zero if none was appended).
func (h *History) Start() time.Time {
	if !h.has {
		return time.Time{}
	}
	return h.timeOf(h.start)
}

// End is the end of the last step appended (zero if none).
func (h *History) End() time.Time {
	if !h.has {
		return time.Time{}
	}
	return h.timeOf(h.end)
}

// LastData is the end of the last step appended that was not Missing (zero if none). It survives
// the reset after a long gap, so a no-data alert still measures from the last real data.
func (h *History) LastData() time.Time {
	if !h.hasData {
		return time.Time{}
	}
	return h.timeOf(h.lastData)
}

// HasDataIn reports whether a step of the window (End()-w, End()] had data (w rounded up to whole
// steps, as Sum does).
func (h *History) HasDataIn(w time.Duration) bool {
	return h.hasData && w > 0 && h.lastData > h.end-ceilDiv(int64(w), int64(h.step))
}

// MemoryBytes is the memory the History holds in its tiers and its own fields, for sizing (about
// 25 KiB for a 30d window at a 1m step).
func (h *History) MemoryBytes() int {
	n := 128 // the struct and the tier slice headers, rounded up
	for _, t := range h.tiers {
		n += len(t.pts)*16 + len(t.cnt)
	}
	return n
}

func (h *History) timeOf(i int64) time.Time { return time.Unix(0, i*int64(h.step)).UTC() }

// Append adds the increment of the step ending at inc.End, which must lie on the step grid
// (a multiple of Step since the Unix epoch) and after End(). A later End than End()+Step() means
// the steps between had no data: they are filled as Missing, unless the gap is longer than
// MaxWindow, in which case nothing held would still be inside any window and the History restarts
// empty at inc's step. Bad and Total must be finite and >= 0 (callers clamp counter resets and
// query noise), and zero for a Missing step.
func (h *History) Append(inc Increment) error {
	if h.step <= 0 {
		return errors.New("appending increment: history not created with NewHistory")
	}
	if err := checkIncrement(inc); err != nil {
		return fmt.Errorf("appending increment at %s: %w", inc.End.Format(time.RFC3339Nano), err)
	}
	ns := inc.End.UnixNano()
	if ns%int64(h.step) != 0 {
		return fmt.Errorf("appending increment at %s: not a multiple of the step %s since the Unix epoch", inc.End.Format(time.RFC3339Nano), h.step)
	}
	i := ns / int64(h.step)
	switch {
	case !h.has:
		h.reset(i - 1)
	case i <= h.end:
		return fmt.Errorf("appending increment at %s: not after the last step %s", inc.End.Format(time.RFC3339Nano), h.End().Format(time.RFC3339Nano))
	case i-1-h.end > h.maxSteps:
		h.reset(i - 1)
	default:
		for h.end < i-1 {
			h.advance(cum{}, false)
		}
	}
	h.advance(cum{inc.Bad, inc.Total}, !inc.Missing)
	if !inc.Missing {
		h.hasData, h.lastData = true, i
	}
	return nil
}

func checkIncrement(inc Increment) error {
	// The common case first, in one comparison each: finite, >= 0, and 0 when Missing.
	if inc.Bad >= 0 && inc.Bad <= math.MaxFloat64 && inc.Total >= 0 && inc.Total <= math.MaxFloat64 &&
		(!inc.Missing || inc.Bad == 0 && inc.Total == 0) {
		return nil
	}
	for _, v := range [...]struct {
		name string
		v    float64
	}{{"bad", inc.Bad}, {"total", inc.Total}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) || v.v < 0 {
			return fmt.Errorf("%s count %v is not a finite number >= 0", v.name, v.v)
		}
		if inc.Missing && v.v != 0 {
			return fmt.Errorf("missing step with %s count %v", v.name, v.v)
		}
	}
	return nil
}

// reset empties the History so that its first step will end at boundary start+1. Stale ring
// entries need no clearing: every boundary <= start reads as 0, and every later one is written
// before it can be read.
func (h *History) reset(start int64) {
	h.has = true
	h.start, h.end = start, start
	h.cur = cum{}
	h.curN, h.countsFrom = 0, start
}

// advance appends one step with the given counts (data: the step was not Missing) and records the
// new boundary in every tier it is a multiple of.
func (h *History) advance(d cum, data bool) {
	h.end++
	h.cur.bad += d.bad
	h.cur.total += d.total
	if data {
		h.curN++
	}
	for k := range h.tiers {
		t := &h.tiers[k]
		if floorMod(h.end, t.res) == 0 {
			j := floorMod(h.end/t.res, int64(len(t.pts)))
			t.pts[j], t.cnt[j] = h.cur, h.curN
		}
	}
}

// Sum returns the bad and total events over (End()-w, End()]. w is rounded up to whole steps. Where
// the window reaches before Start() the sum covers the data that exists. Windows up to the span of
// tier 0 (360 steps) are exact; a longer window's far edge is interpolated linearly inside one
// bucket of the finest tier that holds it. Windows longer than MaxWindow are cut at the oldest point
// held.
func (h *History) Sum(w time.Duration) (bad, total float64) {
	if !h.has || w <= 0 {
		return 0, 0
	}
	c := h.cumAt(h.end - ceilDiv(int64(w), int64(h.step)))
	return nonNeg(h.cur.bad - c.bad), nonNeg(h.cur.total - c.total)
}

// nonNeg hides float rounding that would make a difference of equal cumulative sums slightly
// negative.
func nonNeg(v float64) float64 {
	if v < 0 {
		return 0
	}
	return v
}

// cumAt returns Cum at boundary i <= end.
func (h *History) cumAt(i int64) cum {
	if i <= h.start {
		return cum{}
	}
	if i >= h.end {
		return h.cur
	}
	// Tier 0 holds every boundary of the last len(pts)-1 steps (6h at 1m, every window of a page
	// and the short windows of tickets): found there without the divisions of the general case.
	if t := &h.tiers[0]; t.res == 1 {
		n := int64(len(t.pts))
		if d := h.end - i; d < n {
			j := floorMod(h.end, n) - d
			if j < 0 {
				j += n
			}
			return t.pts[j]
		}
	}
	for k := range h.tiers {
		t := &h.tiers[k]
		hi := floorDiv(h.end, t.res) * t.res
		oldest := hi - int64(len(t.pts)-1)*t.res
		a := floorDiv(i, t.res) * t.res
		if a < oldest {
			continue
		}
		if a == i {
			return h.point(k, a)
		}
		lo, loV := a, h.point(k, a)
		if lo < h.start {
			lo = h.start
		}
		up := a + t.res
		if up > h.end {
			up = h.end
		}
		upV := h.point(k, up)
		f := float64(i-lo) / float64(up-lo)
		return cum{loV.bad + (upV.bad-loV.bad)*f, loV.total + (upV.total-loV.total)*f}
	}
	// Beyond MaxWindow: the oldest point of the last tier.
	k := len(h.tiers) - 1
	t := &h.tiers[k]
	return h.point(k, floorDiv(h.end, t.res)*t.res-int64(len(t.pts)-1)*t.res)
}

// point returns Cum at boundary m, which is h.end or a multiple of tier k's resolution held in it.
func (h *History) point(k int, m int64) cum {
	switch {
	case m <= h.start:
		return cum{}
	case m >= h.end:
		return h.cur
	}
	t := &h.tiers[k]
	return t.pts[floorMod(m/t.res, int64(len(t.pts)))]
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) == (b < 0) {
		q++
	}
	return q
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
