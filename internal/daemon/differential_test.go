package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/unittest"
)

// The differential test: seeded random sources run through the daemon (cycle by cycle, over the
// embedded engine on the same samples), through eval.Backtest (slod check) and through `slod test`
// (a test file generated from the samples), and the three must agree on every alert transition.
// A failure names its seed; rerun one case with -run 'TestDifferential/seed=N'.

// diffCases is how many seeds `make test` runs; SLOD_DIFF_CASES runs more.
const diffCases = 200

// diffMinutes is the length of one case: evaluations at every minute of [0, diffMinutes].
const diffMinutes = 180

func TestDifferential(t *testing.T) {
	n := diffCases
	if s := os.Getenv("SLOD_DIFF_CASES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SLOD_DIFF_CASES=%q: %v", s, err)
		}
		n = v
	}
	for seed := range uint64(n) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			c := newDiffCase(seed)
			want := c.backtest(t)
			got := c.daemon(t)
			c.compare(t, "the daemon", got, want)
			t.Logf("%s, %s samples, %d failing and %d skipped cycles: %d transitions (%d of budget alerts)", c.kind, c.interval,
				len(c.failing), len(c.skipped), len(want), countBudget(want))
			c.slodTest(t, want)
		})
	}
}

// diffCase is one random scenario: an SLO, the samples its queries read, and the daemon's cycles
// in which the source fails or that do not run at all.
type diffCase struct {
	seed     uint64
	kind     string // events-rate, events-increase, latency, timeslice
	rulesYML string
	interval time.Duration
	series   []diffSeries
	// failing cycles (minutes) in which every query of the daemon fails; skipped cycles are not
	// run (the scheduler skipped them); both make the daemon catch up later.
	failing, skipped map[int]bool
}

// diffSeries is one input series: a value per sample slot (i × interval), absent where !ok.
type diffSeries struct {
	labels labels.Labels
	vals   []float64
	ok     []bool
}

func newDiffCase(seed uint64) *diffCase {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	c := &diffCase{seed: seed, failing: map[int]bool{}, skipped: map[int]bool{}}
	c.interval = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute}[r.IntN(3)]
	c.kind = []string{"events-rate", "events-increase", "latency", "timeslice", "timeslice-5m"}[r.IntN(5)]
	c.rulesYML = diffBudgets(seed, diffRules(c.kind, r.IntN(20) == 0))
	c.series = diffTraffic(r, c.kind, c.interval)
	if r.IntN(2) == 0 {
		// The daemon's source fails now and then (bursts shorter than the no-data alert's
		// 10 minutes), and some cycles do not run.
		for range 1 + r.IntN(6) {
			m, k := 1+r.IntN(diffMinutes-5), 1+r.IntN(3)
			for i := m; i < m+k; i++ {
				c.failing[i] = true
			}
		}
		for range r.IntN(6) {
			c.skipped[1+r.IntN(diffMinutes-1)] = true
		}
	}
	return c
}

// diffRules is the SLO of a case: short windows so that a few hours hold many transitions, a `for`
// pair, and a no-data ticket. absent makes it read a metric that does not exist.
func diffRules(kind string, absent bool) string {
	metric := "req_total"
	if absent {
		metric = "nothing_total"
	}
	var sliYML, objective string
	switch kind {
	case "events-rate", "events-increase":
		fn := strings.TrimPrefix(kind, "events-")
		objective = "99"
		sliYML = fmt.Sprintf(`events:
        error_query: sum(%[1]s(%[2]s{code="500"}[{{.window}}]))
        total_query: sum(%[1]s(%[2]s[{{.window}}]))`, fn, metric)
	case "latency":
		objective = "95"
		hist := "lat_seconds"
		if absent {
			hist = "nothing_seconds"
		}
		sliYML = "latency:\n        histogram: " + hist + `{job="api"}` + "\n        threshold: 0.5"
	case "timeslice", "timeslice-5m":
		objective = "90"
		sliYML = fmt.Sprintf(`timeslice:
        query: sum(rate(%[1]s{code="500"}[{{.window}}])) / sum(rate(%[1]s[{{.window}}]))
        op: lt
        threshold: 0.05`, metric)
		if kind == "timeslice-5m" {
			sliYML += "\n        slice: 5m"
		}
	}
	return fmt.Sprintf(`version: slod/v1
service: diff
slos:
  - name: slo
    objective: %s
    window: 1d
    sli:
      %s
    alerting:
      windows:
        - {severity: page, long: 30m, short: 5m, burn_rate: 10}
        - {severity: page, long: 1h, short: 10m, burn_rate: 5, for: 5m}
        - {severity: ticket, long: 2h, short: 15m, burn_rate: 2}
      no_data: {after: 10m, severity: ticket}
`, objective, sliYML)
}

// diffTraffic generates the samples of one case: one or two instances of a service whose error
// share changes in phases, with scrape gaps of 1 to 120 minutes (with or without staleness
// markers), counter resets, NaN samples, an instance that appears and vanishes, and an error
// series that vanishes for a while.
func diffTraffic(r *rand.Rand, kind string, interval time.Duration) []diffSeries {
	slots := int(time.Duration(diffMinutes)*time.Minute/interval) + 1
	perSlot := interval.Seconds()
	share := make([]float64, slots)
	level := 0.0
	for i := range share {
		if r.IntN(int(40*time.Minute/interval)) == 0 {
			level = []float64{0, 0.005, 0.02, 0.08, 0.3, 0.7}[r.IntN(6)]
		}
		share[i] = level
	}
	var out []diffSeries
	instances := 1 + r.IntN(2)
	for inst := range instances {
		from, to := 0, slots
		if inst == 1 {
			from = r.IntN(slots / 2)
			to = from + r.IntN(slots-from)
		}
		gaps := diffGaps(r, slots, interval)
		rps := 2 + r.Float64()*20
		names := diffNames(kind)
		counters := make([]float64, len(names))
		series := make([]diffSeries, len(names))
		for k, lset := range names {
			series[k] = diffSeries{labels: labels.NewBuilder(lset).Set("instance", strconv.Itoa(inst)).Labels(),
				vals: make([]float64, slots), ok: make([]bool, slots)}
		}
		errorsFrom := -1
		errGapFrom, errGapTo := -1, -1
		if r.IntN(4) == 0 {
			errGapFrom = r.IntN(slots)
			errGapTo = errGapFrom + int(time.Duration(1+r.IntN(30))*time.Minute/interval)
		}
		for i := from; i < to; i++ {
			n := math.Floor(rps*perSlot + r.Float64()*3)
			bad := math.Floor(n*share[i] + r.Float64())
			bad = math.Min(bad, n)
			if r.IntN(int(90*time.Minute/interval)+1) == 0 {
				clear(counters) // the process restarted
			}
			diffAdvance(kind, counters, n, bad)
			if bad > 0 && errorsFrom < 0 {
				errorsFrom = i
			}
			if gaps[i] != 0 {
				if gaps[i] == 2 { // the failed scrape's staleness markers
					for k := range series {
						series[k].vals[i], series[k].ok[i] = math.Float64frombits(value.StaleNaN), true
					}
				}
				continue
			}
			for k := range series {
				if k == 1 && (errorsFrom < 0 || (i >= errGapFrom && i < errGapTo)) && kind != "latency" {
					continue // the error series exists from the first error on, and vanishes for a while
				}
				series[k].vals[i], series[k].ok[i] = counters[k], true
				if r.IntN(400) == 0 {
					series[k].vals[i] = math.NaN()
				}
			}
		}
		out = append(out, series...)
	}
	return out
}

// diffNames are the series of one instance: [total, errors] or a histogram [count, le=0.5, le=+Inf].
func diffNames(kind string) []labels.Labels {
	if kind == "latency" {
		return []labels.Labels{
			labels.FromStrings("__name__", "lat_seconds_count", "job", "api"),
			labels.FromStrings("__name__", "lat_seconds_bucket", "job", "api", "le", "0.5"),
			labels.FromStrings("__name__", "lat_seconds_bucket", "job", "api", "le", "+Inf"),
		}
	}
	return []labels.Labels{
		labels.FromStrings("__name__", "req_total", "job", "api", "code", "200"),
		labels.FromStrings("__name__", "req_total", "job", "api", "code", "500"),
	}
}

// diffAdvance adds n requests, bad of them bad, to the counters of diffNames.
func diffAdvance(kind string, counters []float64, n, bad float64) {
	if kind == "latency" {
		counters[0] += n
		counters[1] += n - bad
		counters[2] += n
		return
	}
	counters[0] += n - bad
	counters[1] += bad
}

// diffGaps marks the slots of failed scrapes: 1 without, 2 with staleness markers (at the first
// slot of a gap only, as Prometheus writes them once).
func diffGaps(r *rand.Rand, slots int, interval time.Duration) []int {
	gaps := make([]int, slots)
	for range r.IntN(4) {
		start := r.IntN(slots)
		length := int(time.Duration(1+r.IntN(120)) * time.Minute / interval)
		stale := r.IntN(2) == 0
		for i := start; i < min(start+length, slots); i++ {
			gaps[i] = 1
		}
		if stale {
			gaps[start] = 2
		}
	}
	return gaps
}

// db loads the samples into the embedded engine's store.
func (c *diffCase) db(t *testing.T) *recorded.DB {
	t.Helper()
	db := recorded.NewDB()
	for _, s := range c.series {
		var ts []int64
		var vs []float64
		for i, ok := range s.ok {
			if ok {
				ts = append(ts, (time.Duration(i) * c.interval).Milliseconds())
				vs = append(vs, s.vals[i])
			}
		}
		if len(ts) == 0 {
			continue
		}
		if err := db.Add(s.labels, ts, vs); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func diffTime(m int) time.Time { return time.Unix(0, 0).UTC().Add(time.Duration(m) * time.Minute) }

// diffTransition is one alert's change of phase.
type diffTransition struct {
	Alert    string // page, ticket, ticket(no_data), ticket(budget)
	From, To burnrate.Phase
	At       int // minute
}

func alertName(sev burnrate.Severity, noData, budget bool) string {
	if noData {
		return string(sev) + "(no_data)"
	}
	if budget {
		return string(sev) + "(budget)"
	}
	return string(sev)
}

// backtest runs eval.Backtest with an observer and turns the states it sees into transitions.
func (c *diffCase) backtest(t *testing.T) []diffTransition {
	t.Helper()
	slos, _, err := rules.Parse("diff.yaml", []byte(c.rulesYML))
	if err != nil {
		t.Fatal(err)
	}
	var out []diffTransition
	prev := map[string]burnrate.Phase{}
	obs := func(_ *eval.Instance, at time.Time, st burnrate.State, _ burnrate.Status) {
		for _, a := range st.Alerts {
			name := alertName(a.Severity, a.NoData, a.Budget)
			ph := a.Phase
			if ph == "" {
				ph = burnrate.Inactive
			}
			if was, ok := prev[name]; (ok && was != ph) || (!ok && ph != burnrate.Inactive) {
				if !ok {
					was = burnrate.Inactive
				}
				out = append(out, diffTransition{name, was, ph, int(at.Sub(diffTime(0)) / time.Minute)})
			}
			prev[name] = ph
		}
	}
	_, err = eval.Backtest(context.Background(), recorded.NewQuerier(c.db(t)), slos, diffTime(0), diffTime(diffMinutes),
		eval.Options{Step: time.Minute, DataStart: diffTime(0)}, obs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// flakySource is the daemon's source: the embedded engine, failing in the case's failing cycles.
type flakySource struct {
	q    sli.Querier
	mu   sync.Mutex
	fail bool
}

func (f *flakySource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return nil, errors.New("injected source failure")
	}
	return f.q.QueryRange(ctx, query, start, end, step)
}

// PrometheusEngine: the daemon gets the queries slod check would, since its source is the same
// engine.
func (f *flakySource) PrometheusEngine() {}

// newRecordedDaemon starts a daemon (closed by the test's end) over the recorded db with
// rulesYML, every alert routed to a webhook, through a flakySource; it logs at debug level, in
// JSON, to the buffer returned.
func newRecordedDaemon(t *testing.T, rulesYML string, db *recorded.DB) (*Daemon, *flakySource, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules", "rules.yaml"), rulesYML)
	writeFile(t, filepath.Join(dir, "slod.yml"), `prometheus: {url: "http://127.0.0.1:1"}
rules: [rules/]
receivers: [{name: hook, webhook: {url: "http://127.0.0.1:1/hook"}}]
routes: [{receiver: hook}]
`)
	src := &flakySource{q: recorded.NewQuerier(db)}
	var logs bytes.Buffer
	d, err := New(context.Background(), Options{
		ConfigFile: filepath.Join(dir, "slod.yml"), StoragePath: filepath.Join(dir, "data"),
		Logger:     slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry:   prometheus.NewRegistry(),
		NewQuerier: func(promapi.Config, promapi.Options) (sli.Querier, error) { return src, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, src, &logs
}

// daemon runs a real daemon, one cycle a minute, and reads its transitions from its log.
func (c *diffCase) daemon(t *testing.T) []diffTransition {
	t.Helper()
	d, src, logs := newRecordedDaemon(t, c.rulesYML, c.db(t))
	for m := 0; m <= diffMinutes; m++ {
		if c.skipped[m] && m != diffMinutes {
			continue
		}
		src.mu.Lock()
		src.fail = c.failing[m]
		src.mu.Unlock()
		if err := d.Cycle(context.Background(), diffTime(m)); err != nil {
			t.Fatalf("cycle at %d: %v", m, err)
		}
	}
	if c.failing[diffMinutes] || c.skipped[diffMinutes] {
		src.fail = false
		if err := d.Cycle(context.Background(), diffTime(diffMinutes)); err != nil {
			t.Fatal(err)
		}
	}
	return logTransitions(t, logs.Bytes())
}

// logTransitions reads the "alert transition" lines of a daemon's JSON log.
func logTransitions(t *testing.T, logs []byte) []diffTransition {
	t.Helper()
	var out []diffTransition
	for _, trs := range logTransitionsBySLO(t, logs) {
		out = append(out, trs...)
	}
	return out
}

// logTransitionsBySLO is logTransitions per SLO instance (the log's slo: an SLO id, with the
// group's key for a group).
func logTransitionsBySLO(t *testing.T, logs []byte) map[string][]diffTransition {
	t.Helper()
	out := map[string][]diffTransition{}
	sc := bufio.NewScanner(bytes.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Msg      string
			SLO      string
			Severity burnrate.Severity
			NoData   bool `json:"no_data"`
			Budget   bool `json:"budget"`
			From, To burnrate.Phase
			At       time.Time
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l.Msg == "alert transition" {
			out[l.SLO] = append(out[l.SLO], diffTransition{alertName(l.Severity, l.NoData, l.Budget), l.From, l.To, int(l.At.Sub(diffTime(0)) / time.Minute)})
		}
	}
	// A cycle logs its SLO's transitions in time order; cycles follow each other.
	for _, trs := range out {
		sort.SliceStable(trs, func(i, j int) bool { return trs[i].At < trs[j].At })
	}
	return out
}

// compare requires got to be want. Where the daemon's source failed, its no-data alert may
// legitimately differ (slod is blind then; a backtest is not): only the burn-rate alerts are
// compared in such cases.
func (c *diffCase) compare(t *testing.T, who string, got, want []diffTransition) {
	t.Helper()
	if len(c.failing) > 0 {
		got, want = burnOnly(got), burnOnly(want)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("seed %d (%s, %s samples): %s\n got %v\nthe backtest %v", c.seed, c.kind, c.interval, who, got, want)
	}
}

func burnOnly(ts []diffTransition) []diffTransition {
	var out []diffTransition
	for _, tr := range ts {
		if !strings.Contains(tr.Alert, "no_data") {
			out = append(out, tr)
		}
	}
	return out
}

// slodTest writes the case as a `slod test` file, asserting the backtest's firing alerts just
// before and at every change, and runs it.
func (c *diffCase) slodTest(t *testing.T, want []diffTransition) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "diff.yaml"), c.rulesYML)
	var b strings.Builder
	fmt.Fprintf(&b, "rule_files: [diff.yaml]\nevaluation_interval: 1m\ntests:\n  - name: seed %d\n    interval: %s\n    input_series:\n",
		c.seed, c.interval)
	for _, s := range c.series {
		fmt.Fprintf(&b, "      - series: '%s'\n        values: '%s'\n", s.labels.String(), s.values())
	}
	b.WriteString("    alert_test:\n")
	times := map[int]bool{0: true, diffMinutes: true}
	for _, tr := range want {
		times[tr.At] = true
		if tr.At > 0 {
			times[tr.At-1] = true
		}
	}
	for _, m := range slices.Sorted(maps.Keys(times)) {
		fmt.Fprintf(&b, "      - eval_time: %dm\n        slo: diff/slo\n        exp_alerts: [%s]\n", m, firingAt(want, m))
	}
	path := filepath.Join(dir, "diff_test.yaml")
	writeFile(t, path, b.String())
	var out bytes.Buffer
	if sum := unittest.Run(context.Background(), []string{path}, &out, unittest.Options{}); !sum.OK() {
		t.Fatalf("seed %d (%s, %s samples): slod test disagrees with the backtest:\n%s", c.seed, c.kind, c.interval, out.String())
	}
}

// values is the series in promtool's notation: one value per slot, _ where there is no sample.
func (s diffSeries) values() string {
	parts := make([]string, len(s.vals))
	for i, v := range s.vals {
		switch {
		case !s.ok[i]:
			parts[i] = "_"
		case value.IsStaleNaN(v):
			parts[i] = "stale"
		case math.IsNaN(v):
			parts[i] = "NaN"
		default:
			parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return strings.Join(parts, " ")
}

// firingAt is the exp_alerts list of the alerts firing at minute m, from the transitions.
func firingAt(trs []diffTransition, m int) string {
	phase := map[string]burnrate.Phase{}
	for _, tr := range trs {
		if tr.At <= m {
			phase[tr.Alert] = tr.To
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(phase)) {
		if phase[name] != burnrate.Firing {
			continue
		}
		if sev, ok := strings.CutSuffix(name, "(no_data)"); ok {
			out = append(out, "{severity: "+sev+", no_data: true}")
		} else if sev, ok := strings.CutSuffix(name, "(budget)"); ok {
			out = append(out, "{severity: "+sev+", budget: true}")
		} else {
			out = append(out, "{severity: "+name+"}")
		}
	}
	return strings.Join(out, ", ")
}
