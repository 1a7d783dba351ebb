package sli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
)

// fakeQuerier answers each query with canned series chosen by a substring of the query text, and
// records every call so tests can assert what was asked.
type fakeQuerier struct {
	answers map[string][]Series // key: a substring of the query
	err     error
	mu      sync.Mutex // Increments queries concurrently
	calls   []call
}

type call struct {
	query      string
	start, end time.Time
	step       time.Duration
}

func (f *fakeQuerier) QueryRange(_ context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{query, start, end, step})
	if f.err != nil {
		return nil, f.err
	}
	// The longest matching key wins, so "req_total{code" beats "req_total".
	best := ""
	for k := range f.answers {
		if strings.Contains(query, k) && len(k) > len(best) {
			best = k
		}
	}
	return f.answers[best], nil
}

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// at is the i-th minute after t0.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// pts builds points at minutes 0, 1, … from vs; NaN-free gaps are written as skip.
func pts(vs ...float64) []Point {
	var out []Point
	for i, v := range vs {
		if v == skip {
			continue
		}
		out = append(out, Point{T: at(i), V: v})
	}
	return out
}

// skip marks a step without a point in pts.
const skip = -12345

func inc(i int, bad, total float64) burnrate.Increment {
	return burnrate.Increment{End: at(i), Bad: bad, Total: total}
}

func missing(i int) burnrate.Increment { return burnrate.Increment{End: at(i), Missing: true} }

func sameIncrements(a, b []burnrate.Increment) bool {
	return slices.EqualFunc(a, b, func(x, y burnrate.Increment) bool {
		return x.End.Equal(y.End) && x.Missing == y.Missing && math.Abs(x.Bad-y.Bad) < 1e-9 && math.Abs(x.Total-y.Total) < 1e-9
	})
}

func TestIncrementsEvents(t *testing.T) {
	slo := events(`sum(rate(req_total{code=~"5.."}[{{.window}}]))`, `sum(rate(req_total[{{.window}}]))`)
	cases := []struct {
		name       string
		bad, total []Series
		want       []burnrate.Increment
	}{
		{"plain",
			[]Series{{Points: pts(1, 0, 2, 0)}},
			[]Series{{Points: pts(10, 10, 10, 10)}},
			[]burnrate.Increment{inc(0, 1, 10), inc(1, 0, 10), inc(2, 2, 10), inc(3, 0, 10)}},
		{"series_summed",
			[]Series{{Labels: map[string]string{"code": "500"}, Points: pts(1, 1, 1, 1)}, {Labels: map[string]string{"code": "503"}, Points: pts(skip, 2, skip, 2)}},
			[]Series{{Labels: map[string]string{"i": "a"}, Points: pts(5, 5, 5, 5)}, {Labels: map[string]string{"i": "b"}, Points: pts(5, 5, 5, 5)}},
			[]burnrate.Increment{inc(0, 1, 10), inc(1, 3, 10), inc(2, 1, 10), inc(3, 3, 10)}},
		{"no_error_series_is_zero_bad",
			nil,
			[]Series{{Points: pts(10, 10, 10, 10)}},
			[]burnrate.Increment{inc(0, 0, 10), inc(1, 0, 10), inc(2, 0, 10), inc(3, 0, 10)}},
		{"no_total_is_missing",
			[]Series{{Points: pts(1, 1, 1, 1)}},
			[]Series{{Points: pts(10, skip, skip, 10)}},
			[]burnrate.Increment{inc(0, 1, 10), missing(1), missing(2), inc(3, 1, 10)}},
		{"nothing_at_all",
			nil, nil,
			[]burnrate.Increment{missing(0), missing(1), missing(2), missing(3)}},
		{"nan_is_missing",
			[]Series{{Points: pts(1, math.NaN(), 1, 1)}},
			[]Series{{Points: pts(10, 10, math.NaN(), 10)}},
			[]burnrate.Increment{inc(0, 1, 10), missing(1), missing(2), inc(3, 1, 10)}},
		{"negative_clamps_to_zero",
			[]Series{{Points: pts(-1, 1, 1, 1)}},
			[]Series{{Points: pts(10, -10, 10, 10)}},
			[]burnrate.Increment{inc(0, 0, 10), inc(1, 0, 0), inc(2, 1, 10), inc(3, 1, 10)}},
		{"bad_above_total_clamps",
			[]Series{{Points: pts(20, 1, 1, 0)}},
			[]Series{{Points: pts(10, 10, 0, 0)}},
			[]burnrate.Increment{inc(0, 10, 10), inc(1, 1, 10), inc(2, 0, 0), inc(3, 0, 0)}},
		{"zero_traffic",
			[]Series{{Points: pts(0, 0, 0, 0)}},
			[]Series{{Points: pts(0, 0, 0, 0)}},
			[]burnrate.Increment{inc(0, 0, 0), inc(1, 0, 0), inc(2, 0, 0), inc(3, 0, 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := &fakeQuerier{answers: map[string][]Series{`req_total{code=~"5.."}`: c.bad, "req_total": c.total}}
			// start is not on the grid: it is floored to at(0); end is floored to at(3).
			got, err := Increments(context.Background(), q, slo, at(0).Add(20*time.Second), at(3).Add(59*time.Second), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !sameIncrements(got, c.want) {
				t.Errorf("increments\n got %v\nwant %v", got, c.want)
			}
			if len(q.calls) != 2 {
				t.Fatalf("%d queries, want 2 (one per query)", len(q.calls))
			}
			for _, cl := range q.calls {
				if !cl.start.Equal(at(0)) || !cl.end.Equal(at(3)) || cl.step != time.Minute {
					t.Errorf("QueryRange(%s, %s, %s), want the aligned grid %s..%s step 1m", cl.start, cl.end, cl.step, at(0), at(3))
				}
				if strings.Contains(cl.query, "{{") || !strings.Contains(cl.query, "last_over_time(req_total") {
					t.Errorf("query %q is not the rewritten one", cl.query)
				}
			}
		})
	}
}

func TestIncrementsLatency(t *testing.T) {
	slo := latency(`h_seconds{job="a"}`, 0.3)
	q := &fakeQuerier{answers: map[string][]Series{
		// The Bad query contains the _count part too; the longer key picks it.
		`h_seconds_bucket`: {{Points: pts(2, 0)}},
		`h_seconds_count`:  {{Points: pts(10, 10)}},
	}}
	got, err := Increments(context.Background(), q, slo, at(0), at(1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []burnrate.Increment{inc(0, 2, 10), inc(1, 0, 10)}
	if !sameIncrements(got, want) {
		t.Errorf("increments\n got %v\nwant %v", got, want)
	}
	if len(q.calls) != 2 || !slices.ContainsFunc(q.calls, func(c call) bool { return strings.Contains(c.query, `h_seconds_bucket{job="a",le=~`) }) {
		t.Errorf("calls %v: want a total and a bad query, one reading h_seconds_bucket", q.calls)
	}
}

func TestIncrementsTimeslice(t *testing.T) {
	cases := []struct {
		name      string
		slo       *rules.SLO
		start     time.Time
		end       time.Time
		answer    []Series
		wantCalls []call
		want      []burnrate.Increment
	}{
		{"slice_is_step",
			timeslice(`mem_ratio`, rules.OpLTE, 0.9, 0), at(0), at(3),
			[]Series{{Points: pts(0.5, 0.95, skip, 0.9)}},
			[]call{{"mem_ratio", at(0), at(3), time.Minute}},
			[]burnrate.Increment{inc(0, 0, 1), inc(1, 1, 1), missing(2), inc(3, 0, 1)}},
		{"slice_3m_from_mid_slice",
			// Slice ends are at minutes 0, 3, 6 since t0 (t0 is a multiple of 3m since the epoch);
			// the query starts at the slice end before the range, which had data: the steps up to
			// the next slice end count nothing, and are not missing.
			timeslice(`avg_over_time(up[{{.window}}])`, rules.OpGTE, 0.99, 3*time.Minute), at(1), at(7),
			[]Series{{Points: []Point{{at(0), 1}, {at(3), 0.5}, {at(6), 1}}}},
			[]call{{"avg_over_time(up[3m])", at(0), at(6), 3 * time.Minute}},
			[]burnrate.Increment{inc(1, 0, 0), inc(2, 0, 0), inc(3, 1, 1), inc(4, 0, 0), inc(5, 0, 0), inc(6, 0, 1), inc(7, 0, 0)}},
		{"steps_after_a_slice_without_data",
			// The slice ending at 3 had no data: its successors up to 6 are no evidence either.
			timeslice(`x`, rules.OpLT, 1, 3*time.Minute), at(1), at(7),
			[]Series{{Points: []Point{{at(0), 0.5}, {at(6), 0.5}}}},
			[]call{{"x", at(0), at(6), 3 * time.Minute}},
			[]burnrate.Increment{inc(1, 0, 0), inc(2, 0, 0), missing(3), missing(4), missing(5), inc(6, 0, 1), inc(7, 0, 0)}},
		{"no_slice_end_in_range",
			timeslice(`x`, rules.OpLT, 1, 3*time.Minute), at(1), at(2), nil,
			[]call{{"x", at(0), at(0), 3 * time.Minute}},
			[]burnrate.Increment{missing(1), missing(2)}},
		{"every_series_must_hold",
			timeslice(`x`, rules.OpLT, 1, 0), at(0), at(2),
			[]Series{{Points: pts(0.5, 0.5, 0.5)}, {Points: pts(0.5, 2, skip)}},
			[]call{{"x", at(0), at(2), time.Minute}},
			[]burnrate.Increment{inc(0, 0, 1), inc(1, 1, 1), inc(2, 0, 1)}},
		{"nan_is_missing",
			timeslice(`x`, rules.OpGT, 0, 0), at(0), at(1),
			[]Series{{Points: pts(math.NaN(), 1)}},
			[]call{{"x", at(0), at(1), time.Minute}},
			[]burnrate.Increment{missing(0), inc(1, 0, 1)}},
		{"op_gt_boundary",
			timeslice(`x`, rules.OpGT, 1, 0), at(0), at(1),
			[]Series{{Points: pts(1, 1.5)}},
			[]call{{"x", at(0), at(1), time.Minute}},
			[]burnrate.Increment{inc(0, 1, 1), inc(1, 0, 1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := &fakeQuerier{answers: map[string][]Series{"": c.answer}}
			got, err := Increments(context.Background(), q, c.slo, c.start, c.end, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !sameIncrements(got, c.want) {
				t.Errorf("increments\n got %v\nwant %v", got, c.want)
			}
			if !slices.EqualFunc(q.calls, c.wantCalls, func(a, b call) bool {
				return a.query == b.query && a.start.Equal(b.start) && a.end.Equal(b.end) && a.step == b.step
			}) {
				t.Errorf("calls %v, want %v", q.calls, c.wantCalls)
			}
		})
	}
}

func TestIncrementsRatio(t *testing.T) {
	slo := ratio(`sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))`)
	q := &fakeQuerier{answers: map[string][]Series{"": {{Points: pts(0.01, skip, math.NaN(), 1.5, -0.1)}}}}
	got, err := Increments(context.Background(), q, slo, at(0), at(4), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []burnrate.Increment{inc(0, 0.01, 1), missing(1), missing(2), inc(3, 1, 1), inc(4, 0, 1)}
	if !sameIncrements(got, want) {
		t.Errorf("increments\n got %v\nwant %v", got, want)
	}
	if len(q.calls) != 1 {
		t.Errorf("%d queries, want 1", len(q.calls))
	}
}

func TestIncrementsErrors(t *testing.T) {
	slo := events(`sum(rate(e[{{.window}}]))`, `sum(rate(t[{{.window}}]))`)
	cases := []struct {
		name       string
		q          *fakeQuerier
		start, end time.Time
		want       string
	}{
		{"querier_error", &fakeQuerier{err: errors.New("connection refused")}, at(0), at(1),
			"SLO svc/events: querying total events: connection refused"},
		{"end_before_start", &fakeQuerier{}, at(2), at(1), "SLO svc/events: end 2026-10-01T00:01:00Z is before start 2026-10-01T00:02:00Z"},
		{"off_grid_point", &fakeQuerier{answers: map[string][]Series{"": {{Points: []Point{{at(0).Add(time.Second), 1}}}}}}, at(0), at(1),
			"off the 1m0s step grid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Increments(context.Background(), c.q, slo, c.start, c.end, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestIncrementsOnePerStep(t *testing.T) {
	slo := events(`sum(rate(e[{{.window}}]))`, `sum(rate(t[{{.window}}]))`)
	for _, step := range []time.Duration{30 * time.Second, time.Minute, 5 * time.Minute} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			start, end := at(0).Add(7*time.Second), at(60)
			got, err := Increments(context.Background(), &fakeQuerier{}, slo, start, end, Options{Step: step})
			if err != nil {
				t.Fatal(err)
			}
			n := int(Align(end, step).Sub(Align(start, step))/step) + 1
			if len(got) != n {
				t.Fatalf("%d increments, want %d", len(got), n)
			}
			for i, g := range got {
				if want := Align(start, step).Add(time.Duration(i) * step); !g.End.Equal(want) {
					t.Fatalf("increment %d ends at %s, want %s", i, g.End, want)
				}
			}
		})
	}
}

// promFake is a fakeQuerier that says it is Prometheus's engine.
type promFake struct{ *fakeQuerier }

func (promFake) PrometheusEngine() {}

// TestIncrementsForm: a Querier that is Prometheus's engine gets the subquery form of the step
// difference, any other the portable form (DESIGN §2).
func TestIncrementsForm(t *testing.T) {
	slo := events(`sum(rate(e[{{.window}}]))`, `sum(increase(t[{{.window}}]))`)
	cases := []struct {
		name string
		f    *fakeQuerier
		want []string
	}{
		{"portable", &fakeQuerier{}, []string{
			`sum((((last_over_time(e[1m]) - last_over_time(e[10m] offset 1m)) >= 0 or (last_over_time(e[1m]) and (last_over_time(e[10m] offset 1m) > last_over_time(e[1m])))) / 60))`,
			`sum(((last_over_time(t[1m]) - last_over_time(t[10m] offset 1m)) >= 0 or (last_over_time(t[1m]) and (last_over_time(t[10m] offset 1m) > last_over_time(t[1m])))))`,
		}},
		{"subquery", &fakeQuerier{}, []string{
			`sum(((irate((last_over_time(t[10m]) * 60)[1m30s:1m]) >= 0) and count_over_time(t[1m])))`,
			`sum(((irate(last_over_time(e[10m])[1m30s:1m]) >= 0) and count_over_time(e[1m])))`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var q Querier = c.f
			if c.name == "subquery" {
				q = promFake{c.f}
			}
			if _, err := Increments(context.Background(), q, slo, at(0), at(1), Options{}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cl := range c.f.calls {
				got = append(got, cl.query)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("queries\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestPrepared: a Prepared SLO answers as Increments does, call after call, with the form of the
// Querier it is given; Matches tells when it must be prepared again.
func TestPrepared(t *testing.T) {
	slo := events(`sum(rate(e[{{.window}}]))`, `sum(increase(t[{{.window}}]))`)
	answers := map[string][]Series{"(e[": {{Points: pts(1, 2, 3)}}, "(t[": {{Points: pts(10, 10, 10)}}}
	portable, prom := &fakeQuerier{answers: answers}, promFake{&fakeQuerier{answers: answers}}
	opt := Options{Step: time.Minute}
	p, err := Prepare(slo, portable, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []Querier{portable, prom} {
		want, err := Increments(context.Background(), q, slo, at(0), at(2), opt)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := p.Increments(context.Background(), q, at(0), at(2))
			if err != nil {
				t.Fatal(err)
			}
			if !sameIncrements(got, want) {
				t.Errorf("%T: prepared increments\n got %v\nwant %v", q, got, want)
			}
		}
	}
	// Each querier got the form of its kind, whether the queries were prepared for it or not.
	for _, c := range []struct {
		f    *fakeQuerier
		want string
	}{{portable, "offset 1m"}, {prom.fakeQuerier, "irate("}} {
		for _, cl := range c.f.calls {
			if !strings.Contains(cl.query, c.want) {
				t.Errorf("query %q lacks %q", cl.query, c.want)
			}
		}
	}

	other := *slo
	other.SLI.TotalQuery = `sum(rate(t[{{.window}}]))`
	renamed := *slo
	renamed.Name = "other"
	for _, c := range []struct {
		name string
		slo  *rules.SLO
		q    Querier
		opt  Options
		want bool
	}{
		{"same", slo, portable, opt, true},
		{"same_sli_new_object", new(*slo), portable, opt, true},
		{"other_sli", &other, portable, opt, false},
		{"other_id", &renamed, portable, opt, false},
		{"other_kind_of_querier", slo, prom, opt, false},
		{"other_step", slo, portable, Options{Step: 2 * time.Minute}, false},
		{"other_lookback", slo, portable, Options{Step: time.Minute, Lookback: 5 * time.Minute}, false},
	} {
		if got := p.Matches(c.slo, c.q, c.opt); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}

	if _, err := Prepare(slo, portable, Options{Step: time.Minute, Lookback: time.Second}); err == nil {
		t.Error("Prepare accepted a lookback shorter than the step")
	}
}
