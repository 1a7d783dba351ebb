package eval

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// Instance is one evaluated instance of an SLO: the whole of an SLO without group_by, or one group
// of a grouped SLO, with a Stepper of its own (history, alert state, no-data alert).
type Instance struct {
	SLO *rules.SLO
	// Key is the group's rules.GroupKey; "" for the whole SLO (and for a grouped SLO's placeholder).
	Key string
	// Labels are the group's labels (nil for the whole SLO).
	Labels  map[string]string
	Stepper *Stepper
	// bridge bridges the instance's gaps through its Groups' bridgeMemo: made once, so that
	// handing it to Stepper.Advance at every step allocates nothing.
	bridge *groupBridge
}

// ID names the instance: the SLO id, followed by the group's key for a group
// (`chat/availability{model="m2"}`).
func (i *Instance) ID() string { return InstanceID(i.SLO, i.Key) }

// InstanceID is the id of the instance of slo with the group key key.
func InstanceID(slo *rules.SLO, key string) string { return slo.ID() + key }

// GroupBridger bridges a gap for every group of an SLO at once (sli.Prepared.BridgeGroups).
type GroupBridger interface {
	BridgeGroups(ctx context.Context, end, since time.Time) ([]sli.Group, error)
}

// Groups is the evaluation of one SLO, shared by the daemon and Backtest: one Instance per group,
// created at the first step the group's series have data (its first evaluation; while the SLO
// itself has never been evaluated, its instances start together at the first evaluation, as one
// SLO does), at most SLO.MaxGroups of them (the others are reported as excess, not evaluated), and
// retired once the group has had no data for the SLO's window (its firing alerts resolved). An SLO
// without group_by has exactly one instance, the whole SLO. While a grouped SLO has no group, a
// placeholder instance (key "") stands for it, so that an SLO whose queries never return anything
// raises its no-data alert rather than evaluating nothing; it is retired when the first group
// appears. A Groups is not safe for concurrent use.
type Groups struct {
	slo    *rules.SLO
	policy *burnrate.Compiled
	opt    StepperOptions
	step   time.Duration
	insts  map[string]*Instance
	// extra are the exclusions beside the SLO's own (SetExclusions).
	extra   exclude.Set
	keys    []string    // the keys of insts, sorted
	list    []*Instance // insts in key order, replaced (never changed) when insts change
	excess  map[string]bool
	started bool
	// memo is the bridges of the current Advance.
	memo bridgeMemo
}

// NewGroups returns the evaluation of slo at the evaluation step, without history.
func NewGroups(slo *rules.SLO, step time.Duration, opt StepperOptions) *Groups {
	g := &Groups{slo: slo, policy: burnrate.Compile(PolicyFor(slo, step)), opt: opt, step: step, insts: map[string]*Instance{}, excess: map[string]bool{}}
	if len(slo.GroupBy) == 0 {
		g.add("", nil, nil, Checkpoint{})
	}
	return g
}

// Restore adds an instance as the store kept it (its history may be nil: refetched).
func (g *Groups) Restore(key string, labels map[string]string, hist *burnrate.History, cp Checkpoint) *Instance {
	if !cp.Evaluated.IsZero() {
		g.started = true
	}
	return g.add(key, labels, hist, cp)
}

func (g *Groups) add(key string, labels map[string]string, hist *burnrate.History, cp Checkpoint) *Instance {
	if hist == nil {
		hist = burnrate.NewHistory(g.step, g.slo.MaxWindow())
	}
	cp.Group = labels
	inst := &Instance{SLO: g.slo, Key: key, Labels: labels, Stepper: NewStepper(g.policy, hist, cp, g.opt),
		bridge: &groupBridge{m: &g.memo, key: key}}
	g.setExclusions(inst)
	if _, ok := g.insts[key]; !ok {
		i, _ := slices.BinarySearch(g.keys, key)
		g.keys = slices.Insert(g.keys, i, key)
	}
	g.insts[key] = inst
	g.relist()
	return inst
}

// remove takes an instance out of the evaluation.
func (g *Groups) remove(key string) {
	if i, ok := slices.BinarySearch(g.keys, key); ok {
		g.keys = slices.Delete(g.keys, i, i+1)
	}
	delete(g.insts, key)
	g.relist()
}

// relist rebuilds the list of instances in key order: a new slice, so that one returned by
// Instances before stays as it was.
func (g *Groups) relist() {
	g.list = make([]*Instance, len(g.keys))
	for i, k := range g.keys {
		g.list[i] = g.insts[k]
	}
}

// SLO is the SLO evaluated.
func (g *Groups) SLO() *rules.SLO { return g.slo }

// Instances are the instances, in key order (the whole SLO or the placeholder first). The slice is
// shared: callers must not change it (Backtest asks for it at every step).
func (g *Groups) Instances() []*Instance { return g.list }

// Excess lists the groups past SLO.MaxGroups seen so far, which are not evaluated.
func (g *Groups) Excess() []string { return slices.Sorted(maps.Keys(g.excess)) }

// Empty reports whether no instance has any history yet: the next fetch is a backfill.
func (g *Groups) Empty() bool {
	for _, inst := range g.insts {
		if !inst.Stepper.History().End().IsZero() {
			return false
		}
	}
	return true
}

// From is the first step to fetch for every instance (Stepper.From), floor when there is none.
func (g *Groups) From(floor time.Time) time.Time {
	var from time.Time
	for _, inst := range g.insts {
		if f := inst.Stepper.From(floor); from.IsZero() || f.Before(from) {
			from = f
		}
	}
	if from.IsZero() {
		return floor
	}
	return from
}

// GroupsOutcome is what one Groups.Advance did.
type GroupsOutcome struct {
	// outcomes are the instances' outcomes in key order (retired ones included): a slice, not a
	// map, because Backtest makes one GroupsOutcome per step.
	outcomes []keyedOutcome
	// New and Retired are the instances created and retired (in key order); a retired instance's
	// last outcome holds the resolution of its firing alerts.
	New, Retired []*Instance
	// Errs are the instances' errors by key (a bridge that failed, a value no SLI can have): that
	// instance's alone, the others were evaluated.
	Errs map[string]error
}

// Advance gives every instance the increments of its group (groups: one per group with data on a
// common grid of steps, in key order as sli.Groups returns them; a group absent from them has no
// data there) and evaluates at now (Stepper.Advance), creating, limiting and retiring groups as
// Groups says. Backtest calls it at every step, so it allocates little for an SLO that keeps its
// instances.
func (g *Groups) Advance(ctx context.Context, groups []sli.Group, now time.Time, src GroupBridger) GroupsOutcome {
	if !slices.IsSortedFunc(groups, byGroupKey) {
		groups = slices.SortedFunc(slices.Values(groups), byGroupKey)
	}
	out := GroupsOutcome{outcomes: make([]keyedOutcome, 0, len(g.keys))}
	g.memo = bridgeMemo{src: src}
	given := g.create(ctx, groups, &out)
	g.placeholder(now, &out)
	for _, inst := range g.list {
		key := inst.Key
		var incs []burnrate.Increment
		if i, ok := slices.BinarySearchFunc(groups, key, groupHasKey); ok {
			incs = groups[i].Incs[given[key]:]
		} else {
			incs = missingLike(groups)
		}
		o, err := inst.Stepper.Advance(ctx, incs, now, g.bridger(inst))
		out.add(key, o)
		out.fail(key, err)
	}
	g.retire(now, &out)
	g.started = true
	g.memo = bridgeMemo{} // hold neither the source nor its answers between evaluations
	return out
}

type keyedOutcome struct {
	key string
	o   Outcome
}

// Outcome is the outcome of the instance with the key (retired ones included); zero for one that
// was not evaluated.
func (o *GroupsOutcome) Outcome(key string) Outcome {
	if i, ok := o.find(key); ok {
		return o.outcomes[i].o
	}
	return Outcome{}
}

// add records x, an instance's outcome, after what the instance did before in the same Advance.
func (o *GroupsOutcome) add(key string, x Outcome) {
	i, ok := o.find(key)
	if ok {
		o.outcomes[i].o = merge(o.outcomes[i].o, x)
		return
	}
	o.outcomes = slices.Insert(o.outcomes, i, keyedOutcome{key, x})
}

func (o *GroupsOutcome) find(key string) (int, bool) {
	return slices.BinarySearchFunc(o.outcomes, key, func(k keyedOutcome, key string) int { return strings.Compare(k.key, key) })
}

func byGroupKey(a, b sli.Group) int         { return strings.Compare(a.Key, b.Key) }
func groupHasKey(a sli.Group, k string) int { return strings.Compare(a.Key, k) }

// fail records an instance's error (none when err is nil).
func (o *GroupsOutcome) fail(key string, err error) {
	if err == nil {
		return
	}
	if o.Errs == nil {
		o.Errs = map[string]error{}
	}
	o.Errs[key] = err
}

// create makes an instance of every group that has data for the first time (up to MaxGroups) and,
// once the SLO has been evaluated before, evaluates it at its first step with data. It returns how
// many of its group's increments each instance created so was given (nil when none was created).
func (g *Groups) create(ctx context.Context, groups []sli.Group, out *GroupsOutcome) map[string]int {
	var given map[string]int
	for _, grp := range groups {
		if _, ok := g.insts[grp.Key]; ok || grp.Key == "" {
			continue
		}
		first := slices.IndexFunc(grp.Incs, func(inc burnrate.Increment) bool { return !inc.Missing })
		if first < 0 {
			continue // no data yet: not a group yet
		}
		if g.groupCount() >= g.slo.MaxGroups {
			g.excess[grp.Key] = true
			continue
		}
		inst := g.add(grp.Key, grp.Labels, nil, Checkpoint{})
		delete(g.excess, grp.Key) // room was made (a group retired)
		out.New = append(out.New, inst)
		if !g.started {
			continue // starts with the others, at the first evaluation
		}
		at := grp.Incs[first].End
		o, err := inst.Stepper.Advance(ctx, grp.Incs[:first+1], at, g.bridger(inst))
		out.add(grp.Key, o)
		out.fail(grp.Key, err)
		if given == nil {
			given = map[string]int{}
		}
		given[grp.Key] = first + 1
	}
	return given
}

// groupCount is the number of real groups (the placeholder does not count).
func (g *Groups) groupCount() int {
	n := len(g.insts)
	if _, ok := g.insts[""]; ok && len(g.slo.GroupBy) > 0 {
		n--
	}
	return n
}

// placeholder keeps the instance that stands for a grouped SLO without groups: created while there
// is none, retired when a group is there.
func (g *Groups) placeholder(now time.Time, out *GroupsOutcome) {
	if len(g.slo.GroupBy) == 0 {
		return
	}
	ph, has := g.insts[""]
	switch n := g.groupCount(); {
	case n == 0 && !has:
		g.add("", nil, nil, Checkpoint{})
	case n > 0 && has:
		g.retireOne(ph, now, "the SLO has groups now", out)
	}
}

// retire retires the groups that have had no data for the SLO's window.
func (g *Groups) retire(now time.Time, out *GroupsOutcome) {
	for _, inst := range g.list {
		key := inst.Key
		last := inst.Stepper.History().LastData()
		if key == "" || last.IsZero() || now.Sub(last) <= g.slo.Period {
			continue
		}
		g.retireOne(inst, now, "retired: the group has had no data for "+model.Duration(g.slo.Period).String(), out)
	}
}

func (g *Groups) retireOne(inst *Instance, now time.Time, note string, out *GroupsOutcome) {
	trs := inst.Stepper.Retire(now, note)
	if i, ok := out.find(inst.Key); ok {
		out.outcomes[i].o.Transitions = append(out.outcomes[i].o.Transitions, trs...)
	} else {
		out.add(inst.Key, Outcome{Transitions: trs})
	}
	out.Retired = append(out.Retired, inst)
	g.remove(inst.Key)
}

// missingLike returns steps without data on the grid of the batch (nil when there is none), for
// an instance whose group has no series in it.
func missingLike(groups []sli.Group) []burnrate.Increment {
	if len(groups) == 0 {
		return nil
	}
	out := make([]burnrate.Increment, len(groups[0].Incs))
	for i, inc := range groups[0].Incs {
		out[i] = burnrate.Increment{End: inc.End, Missing: true}
	}
	return out
}

// merge adds b, a later outcome of the same instance, to a.
func merge(a, b Outcome) Outcome {
	b.Transitions = append(a.Transitions, b.Transitions...)
	b.Appended += a.Appended
	b.NoBad = b.NoBad || a.NoBad
	return b
}

// bridgeMemo bridges every group of an SLO with one pair of queries per gap: the instances after
// the same outage share (end, since).
type bridgeMemo struct {
	src  GroupBridger
	done map[[2]time.Time]map[string]burnrate.Increment
}

// bridger is the Bridger of inst for the current Advance (nil without a GroupBridger).
func (g *Groups) bridger(inst *Instance) Bridger {
	if g.memo.src == nil {
		return nil
	}
	return inst.bridge
}

// groupBridge is the Bridger of one instance: its group's part of the memo's bridges.
type groupBridge struct {
	m   *bridgeMemo
	key string
}

// Bridge implements Bridger: the group's increment from the SLO's bridge; Missing when the group has
// no value there.
func (b *groupBridge) Bridge(ctx context.Context, end, since time.Time) (burnrate.Increment, error) {
	k := [2]time.Time{end, since}
	got, ok := b.m.done[k]
	if !ok {
		groups, err := b.m.src.BridgeGroups(ctx, end, since)
		if err != nil {
			return burnrate.Increment{}, err
		}
		got = make(map[string]burnrate.Increment, len(groups))
		for _, grp := range groups {
			got[grp.Key] = grp.Incs[0]
		}
		if b.m.done == nil {
			b.m.done = map[[2]time.Time]map[string]burnrate.Increment{}
		}
		b.m.done[k] = got
	}
	if inc, ok := got[b.key]; ok {
		return inc, nil
	}
	return burnrate.Increment{End: end, Missing: true}, nil
}
