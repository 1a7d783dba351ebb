package eval

import (
	"context"
	"slices"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// The spans and resolutions of burnrate.History's tiers, in steps (DESIGN §3): the newest 360 steps
// are held one by one, the next ones up to 4,320 steps back in buckets of 10 steps, older ones in
// buckets of 60. Increments older than a tier's span are only ever seen through its buckets, so
// the initial backfill can fetch them at the bucket's resolution without losing anything.
const (
	fineSteps = 360
	midSteps  = 4320
	midRes    = 10
	coarseRes = 60
)

// segment is one range query of a backfill: increments ending at every multiple of step in
// [from, to].
type segment struct {
	from, to time.Time
	step     time.Duration
}

// backfillPlan splits the fetch of the steps ending in [start, t] into segments at the History's
// tier resolutions: 60 steps where only the coarsest tier holds them, 10 steps where the middle
// tier does, single steps for the newest 360. Consecutive segments are contiguous: each covers
// exactly the time after the previous one's last end. The first segment may start up to one
// bucket before start, which only means a little more history.
//
// For a 30d window at 1m this is about 1,400 points instead of 43,200.
func backfillPlan(start, t time.Time, step time.Duration) []segment {
	mid, coarse := midRes*step, coarseRes*step
	fineFrom := sli.Align(t.Add(-fineSteps*step), mid) // the fine segment covers (fineFrom, t]
	if !start.Before(fineFrom) {
		return []segment{{from: start, to: t, step: step}}
	}
	var segs []segment
	midFirst := ceilAlign(start, mid)
	if midFrom := sli.Align(t.Add(-midSteps*step), coarse); start.Before(midFrom) {
		segs = append(segs, segment{from: ceilAlign(start, coarse), to: midFrom, step: coarse})
		midFirst = midFrom.Add(mid)
	}
	if !midFirst.After(fineFrom) {
		segs = append(segs, segment{from: midFirst, to: fineFrom, step: mid})
	}
	return append(segs, segment{from: fineFrom.Add(step), to: t, step: step})
}

// ceilAlign returns the first multiple of d since the Unix epoch at or after t.
func ceilAlign(t time.Time, d time.Duration) time.Time {
	a := sli.Align(t, d)
	if a.Before(t) {
		a = a.Add(d)
	}
	return a
}

// Source is where the increments of one SLO come from: a Querier and the SLO's queries prepared for
// the evaluation step and lookback (sli.Prepare with that Querier). It bridges the SLO's gaps too
// (GroupBridger). The daemon and Backtest fetch through it alike.
type Source struct {
	Querier  sli.Querier
	SLO      *rules.SLO
	Prepared *sli.Prepared
	// Exclusions are those of the SLO's instances (Groups.Exclusions): a backfill fetches the
	// coarse buckets they cover in part at the evaluation step, so that every step is counted or
	// excluded whole.
	Exclusions exclude.Set
}

// Fetch returns the increments of the steps ending in [start, t], per group (sli.Groups: one group
// for an SLO without group_by). A backfill (an SLO without history) of an additive SLI
// (sli.Additive) longer than the finest tier is fetched segment by segment at the tiers'
// resolutions (backfillPlan); everything else at the evaluation step with the prepared queries,
// which is at most two queries (split under the server's point limit by the querier).
//
// A latency SLI whose steps have a total but no bad events is checked for what usually causes
// that: a threshold that is no bucket boundary of the histogram (sli.Prepared.CheckBuckets). Such
// an SLI cannot be evaluated, and its *sli.BucketError is Fetch's error, so that `slod check`,
// `slod test` and the daemon (the SLO's source error, reason invalid) all say so, with the le
// values the histogram has.
func (s Source) Fetch(ctx context.Context, start, t time.Time, backfill bool) ([]sli.Group, error) {
	groups, err := s.fetch(ctx, start, t, backfill)
	if err != nil {
		return nil, err
	}
	var last time.Time // the last step of any group with a total and no bad events
	for _, g := range groups {
		for i := len(g.Incs) - 1; i >= 0; i-- {
			if inc := g.Incs[i]; inc.NoBad && !inc.Missing {
				last = maxTime(last, inc.End)
				break
			}
		}
	}
	if !last.IsZero() {
		if err := s.Prepared.CheckBuckets(ctx, s.Querier, last); err != nil {
			return nil, err
		}
	}
	return groups, nil
}

func (s Source) fetch(ctx context.Context, start, t time.Time, backfill bool) ([]sli.Group, error) {
	opt := s.Prepared.Options()
	step := opt.Step
	if !backfill || t.Sub(start) < fineSteps*step {
		return s.Prepared.Groups(ctx, s.Querier, start, t)
	}
	ok, perSecond := s.Prepared.Additive()
	if !ok {
		return s.Prepared.Groups(ctx, s.Querier, start, t)
	}
	var segs [][]sli.Group
	for _, seg := range refine(backfillPlan(start, t, step), s.Exclusions, step) {
		// sli needs the lookback to span a step; a counter sample within the coarse step is
		// what an exact difference between its two ends needs anyway.
		var (
			groups []sli.Group
			err    error
		)
		if seg.step == step {
			groups, err = s.Prepared.Groups(ctx, s.Querier, seg.from, seg.to)
		} else {
			groups, err = sli.Groups(ctx, s.Querier, s.SLO, seg.from, seg.to, sli.Options{Step: seg.step, Lookback: max(opt.Lookback, seg.step)})
		}
		if err != nil {
			return nil, err
		}
		if seg.step != step && perSecond {
			scale := float64(seg.step / step)
			for _, g := range groups {
				for i := range g.Incs {
					g.Incs[i].Bad *= scale
					g.Incs[i].Total *= scale
				}
			}
		}
		segs = append(segs, groups)
	}
	return joinSegments(segs), nil
}

// joinSegments joins the groups of consecutive segments: a group's increments are those of every
// segment in turn, steps without data where it had no series in a segment.
func joinSegments(segs [][]sli.Group) []sli.Group {
	byKey := map[string]*sli.Group{}
	var keys []string
	for _, seg := range segs {
		for _, g := range seg {
			if byKey[g.Key] == nil {
				byKey[g.Key] = &sli.Group{Key: g.Key, Labels: g.Labels}
				keys = append(keys, g.Key)
			}
		}
	}
	slices.Sort(keys)
	for _, seg := range segs {
		if len(seg) == 0 {
			continue
		}
		for _, k := range keys {
			out := byKey[k]
			i := slices.IndexFunc(seg, func(g sli.Group) bool { return g.Key == k })
			if i >= 0 {
				out.Incs = append(out.Incs, seg[i].Incs...)
				continue
			}
			for _, inc := range seg[0].Incs {
				out.Incs = append(out.Incs, burnrate.Increment{End: inc.End, Missing: true})
			}
		}
	}
	out := make([]sli.Group, len(keys))
	for i, k := range keys {
		out[i] = *byKey[k]
	}
	return out
}

// BridgeGroups is the SLO's GroupBridger: sli.Prepared.BridgeGroups over the Querier.
func (s Source) BridgeGroups(ctx context.Context, end, since time.Time) ([]sli.Group, error) {
	return s.Prepared.BridgeGroups(ctx, s.Querier, end, since)
}
