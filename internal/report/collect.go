// Package report builds the HTML report of `slod check --format html`: per SLO (or group) the
// error budget and the burn rate of every window pair at the evaluations of the backtest, its
// alert intervals with their reasons, and a summary, drawn by the status page's chart code
// (internal/web) into one self-contained file.
package report

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/rules"
)

// MaxPoints bounds the points of a chart: a backtest of more evaluations is sampled, one point
// every few steps (each point's events are those of all the steps since the previous one), so a
// report over weeks of data stays a few hundred kilobytes per SLO.
const MaxPoints = 1440

// Collector records what every SLO instance looked like during a backtest, as an eval.Observer
// (Observe): at one evaluation every Every steps, the budget remaining and the burn rate over
// each window pair's long window that the evaluation computed, and the events since the previous
// point.
type Collector struct {
	first, last time.Time
	step        time.Duration
	every       int

	mu     sync.Mutex
	series map[instKey]*series
}

// instKey names one instance: an SLO and its group's key ("" for the SLO itself).
type instKey struct {
	slo *rules.SLO
	key string
}

// series is one instance's columns so far.
type series struct {
	inst        *eval.Instance
	lastI       int // index of the last point's evaluation, -1 before the first
	t           []int64
	steps, data []int
	budget      []*float64
	burn        map[time.Duration][]*float64
}

// NewCollector returns a Collector for a backtest evaluating at every step from first to last.
func NewCollector(first, last time.Time, step time.Duration) *Collector {
	n := int(last.Sub(first)/step) + 1
	return &Collector{first: first, last: last, step: step, every: max(1, (n+MaxPoints-1)/MaxPoints), series: map[instKey]*series{}}
}

// Observe is an eval.Observer. Calls for one SLO never overlap (eval.Backtest), those of
// different SLOs may.
func (c *Collector) Observe(inst *eval.Instance, t time.Time, _ burnrate.State, status burnrate.Status) {
	i := int(t.Sub(c.first) / c.step)
	if (i+1)%c.every != 0 && !t.Equal(c.last) {
		return
	}
	c.mu.Lock()
	k := instKey{inst.SLO, inst.Key}
	s := c.series[k]
	if s == nil {
		s = &series{lastI: -1, burn: map[time.Duration][]*float64{}}
		c.series[k] = s
	}
	c.mu.Unlock()
	s.inst = inst
	s.add(c, i, t, status)
}

// add appends the point of the evaluation at t (its index i).
func (s *series) add(c *Collector, i int, t time.Time, status burnrate.Status) {
	steps := i - s.lastI
	if s.lastI < 0 {
		steps = min(i+1, c.every)
	}
	s.lastI = i
	data := 0
	if ld := s.inst.Stepper.History().LastData(); !ld.IsZero() && ld.After(t.Add(-time.Duration(steps)*c.step)) {
		data = 1
	}
	s.t = append(s.t, t.Unix())
	s.steps, s.data = append(s.steps, steps), append(s.data, data)
	s.budget = append(s.budget, knownPtr(status.BudgetRemaining, !status.NoData))
	for _, w := range s.inst.SLO.Alerting.Windows {
		if _, done := s.burn[w.Long]; done && len(s.burn[w.Long]) == len(s.t) {
			continue
		}
		var v *float64
		for _, wb := range status.Windows {
			if wb.Window == w.Long {
				v = knownPtr(wb.BurnRate, !wb.NoData)
			}
		}
		s.burn[w.Long] = append(s.burn[w.Long], v)
	}
}

// knownPtr is &v, to 5 significant digits (the charts need no more, and the report stays small),
// when ok, else nil (JSON null: unknown).
func knownPtr(v float64, ok bool) *float64 {
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 5, 64), 64)
	return &r
}

// lookup returns the series of one instance, nil if it was never observed.
func (c *Collector) lookup(slo *rules.SLO, key string) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.series[instKey{slo, key}]
}
