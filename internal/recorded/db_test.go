package recorded

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/slod-dev/slod/internal/sli"
)

// testDB holds three series; "c" has 5000 samples every 10 s, more than one chunk.
func testDB(t *testing.T) *DB {
	t.Helper()
	db := NewDB()
	add := func(lset labels.Labels, from, every int64, n int) {
		ts, vs := make([]int64, n), make([]float64, n)
		for i := range n {
			ts[i], vs[i] = from+int64(i)*every, float64(i)
		}
		if err := db.Add(lset, ts, vs); err != nil {
			t.Fatal(err)
		}
	}
	add(labels.FromStrings("__name__", "req_total", "job", "b", "code", "500"), 0, 60_000, 10)
	add(labels.FromStrings("__name__", "req_total", "job", "a", "code", "200"), 0, 60_000, 10)
	add(labels.FromStrings("__name__", "c", "job", "a"), 0, 10_000, 5000)
	return db
}

type selected struct {
	labels string
	ts     []int64
}

func selectAll(t *testing.T, db *DB, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) []selected {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), sortSeries, hints, ms...)
	var out []selected
	var it chunkenc.Iterator
	for ss.Next() {
		s := selected{labels: ss.At().Labels().String()}
		it = ss.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			s.ts = append(s.ts, it.AtT())
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		out = append(out, s)
	}
	if ss.Err() != nil {
		t.Fatal(ss.Err())
	}
	return out
}

func TestSelect(t *testing.T) {
	db := testDB(t)
	eq := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, n, v) }
	re := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchRegexp, n, v) }
	cases := []struct {
		name       string
		hints      *storage.SelectHints
		ms         []*labels.Matcher
		wantLabels []string
		wantTS     [][]int64 // per series; nil: not checked
	}{
		{"by_name_sorted", nil, []*labels.Matcher{eq("__name__", "req_total")},
			[]string{`{__name__="req_total", code="200", job="a"}`, `{__name__="req_total", code="500", job="b"}`}, nil},
		{"name_and_label", nil, []*labels.Matcher{eq("__name__", "req_total"), re("code", "5..")},
			[]string{`{__name__="req_total", code="500", job="b"}`}, nil},
		{"no_name", nil, []*labels.Matcher{eq("job", "a")},
			[]string{`{__name__="c", job="a"}`, `{__name__="req_total", code="200", job="a"}`}, nil},
		{"not_equal", nil, []*labels.Matcher{re("__name__", ".+"), labels.MustNewMatcher(labels.MatchNotEqual, "job", "a")},
			[]string{`{__name__="req_total", code="500", job="b"}`}, nil},
		{"no_match", nil, []*labels.Matcher{eq("__name__", "nope")}, nil, nil},
		{"time_range_trims", &storage.SelectHints{Start: 120_000, End: 240_000}, []*labels.Matcher{eq("__name__", "req_total"), eq("job", "a")},
			[]string{`{__name__="req_total", code="200", job="a"}`}, [][]int64{{120_000, 180_000, 240_000}}},
		{"range_without_samples", &storage.SelectHints{Start: 600_001, End: 700_000}, []*labels.Matcher{eq("__name__", "req_total")}, nil, nil},
		// Sample chunkSamples of c starts the second chunk: this range starts in the first chunk and
		// ends in the second.
		{"range_across_chunks", &storage.SelectHints{Start: (chunkSamples - 2) * 10_000, End: (chunkSamples + 1) * 10_000}, []*labels.Matcher{eq("__name__", "c")},
			[]string{`{__name__="c", job="a"}`}, [][]int64{{(chunkSamples - 2) * 10_000, (chunkSamples - 1) * 10_000, chunkSamples * 10_000, (chunkSamples + 1) * 10_000}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := selectAll(t, db, true, c.hints, c.ms...)
			var gotLabels []string
			for _, s := range got {
				gotLabels = append(gotLabels, s.labels)
			}
			if !slices.Equal(gotLabels, c.wantLabels) {
				t.Errorf("series %q, want %q", gotLabels, c.wantLabels)
			}
			for i, want := range c.wantTS {
				if !slices.Equal(got[i].ts, want) {
					t.Errorf("series %d timestamps %v, want %v", i, got[i].ts, want)
				}
			}
		})
	}
}

// TestSelectChunks reads a long series whole and in ranges that cut chunks, against the samples
// that went in.
func TestSelectChunks(t *testing.T) {
	db := NewDB()
	const n = 3*chunkSamples + 17
	ts, vs := make([]int64, n), make([]float64, n)
	for i := range n {
		ts[i], vs[i] = int64(i)*15_000, float64(i*i%97)
	}
	if err := db.Add(labels.FromStrings("__name__", "g"), ts, vs); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		from, to int // sample indexes, inclusive
	}{
		{"all", 0, n - 1},
		{"first_chunk_inside", 10, 20},
		{"across_two_boundaries", chunkSamples - 5, 2*chunkSamples + 5},
		{"exact_chunk", chunkSamples, 2*chunkSamples - 1},
		{"last_sample", n - 1, n - 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, _ := db.Querier(0, 0)
			ss := q.Select(context.Background(), false, &storage.SelectHints{Start: ts[c.from], End: ts[c.to]}, labels.MustNewMatcher(labels.MatchEqual, "__name__", "g"))
			if !ss.Next() {
				t.Fatal("no series")
			}
			it := ss.At().Iterator(nil)
			i := c.from
			for it.Next() == chunkenc.ValFloat {
				gt, gv := it.At()
				if i > c.to || i >= n || gt != ts[i] || gv != vs[i] {
					t.Fatalf("sample %d: got (%d, %g), want (%d, %g) within [%d, %d]", i, gt, gv, ts[min(i, n-1)], vs[min(i, n-1)], c.from, c.to)
				}
				i++
			}
			if i != c.to+1 {
				t.Errorf("read samples %d..%d, want %d..%d", c.from, i-1, c.from, c.to)
			}
			// Seek lands on the first sample at or after t.
			it = ss.At().Iterator(it)
			mid := (c.from + c.to) / 2
			if it.Seek(ts[mid]-1) != chunkenc.ValFloat || it.AtT() != ts[mid] {
				t.Errorf("Seek(%d) did not land on %d", ts[mid]-1, ts[mid])
			}
		})
	}
}

// TestIteratorOps drives the iterator of a series of several chunks, with gaps inside and between
// chunks, through random ranges and random sequences of Next and Seek (forward, backward, into
// gaps, past the end), reusing one iterator, against a plain list of the samples.
func TestIteratorOps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	db := NewDB()
	const n = 4*chunkSamples + 100
	ts, vs := make([]int64, n), make([]float64, n)
	tt := int64(1_000)
	for i := range n {
		ts[i], vs[i] = tt, float64(i)
		tt += 15_000
		if r.IntN(200) == 0 {
			tt += int64(r.IntN(3_600_000)) // a gap, perhaps across a chunk boundary
		}
	}
	if err := db.Add(labels.FromStrings("__name__", "g"), ts, vs); err != nil {
		t.Fatal(err)
	}
	q, _ := db.Querier(0, 0)
	var it chunkenc.Iterator
	for trial := range 2000 {
		mint := ts[0] - 50_000 + r.Int64N(ts[n-1]-ts[0]+100_000)
		maxt := mint + r.Int64N(ts[n-1]-mint+50_000)
		if trial%10 == 0 { // a range that holds no sample, or exactly one
			i := r.IntN(n - 1)
			mint, maxt = ts[i]+1, ts[i+1]-1+int64(r.IntN(2))
		}
		var want []int // indexes of the samples in [mint, maxt]
		for i := range n {
			if ts[i] >= mint && ts[i] <= maxt {
				want = append(want, i)
			}
		}
		ss := q.Select(context.Background(), false, &storage.SelectHints{Start: mint, End: maxt}, labels.MustNewMatcher(labels.MatchEqual, "__name__", "g"))
		if !ss.Next() {
			if len(want) > 0 {
				t.Fatalf("trial %d [%d, %d]: no series, want %d samples", trial, mint, maxt, len(want))
			}
			continue
		}
		if len(want) == 0 {
			t.Fatalf("trial %d [%d, %d]: a series without samples in range", trial, mint, maxt)
		}
		it = ss.At().Iterator(it)
		pos := -1 // index into want of the current sample; len(want): done
		for op := 0; pos < len(want) && op < 50; op++ {
			var got chunkenc.ValueType
			if r.IntN(3) == 0 {
				got = it.Next()
				pos++
			} else {
				seek := mint - 60_000 + r.Int64N(maxt-mint+120_000)
				if r.IntN(4) == 0 && pos >= 0 && pos < len(want) {
					seek = ts[want[pos]] - int64(r.IntN(2)) // where it is, or just before
				}
				got = it.Seek(seek)
				if pos < 0 || ts[want[pos]] < seek {
					pos = max(pos, 0)
					for pos < len(want) && ts[want[pos]] < seek {
						pos++
					}
				}
			}
			if pos >= len(want) {
				if got != chunkenc.ValNone {
					t.Fatalf("trial %d [%d, %d] op %d: %v at %d, want the end", trial, mint, maxt, op, got, it.AtT())
				}
				break
			}
			gt, gv := it.At()
			if got != chunkenc.ValFloat || gt != ts[want[pos]] || gv != vs[want[pos]] || it.AtT() != gt {
				t.Fatalf("trial %d [%d, %d] op %d: %v (%d, %g), want (%d, %g)", trial, mint, maxt, op, got, gt, gv, ts[want[pos]], vs[want[pos]])
			}
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	}
}

func TestLabelValuesAndNames(t *testing.T) {
	db := testDB(t)
	q, _ := db.Querier(math.MinInt64, math.MaxInt64)
	vals, _, err := q.LabelValues(context.Background(), "job", nil)
	if err != nil || !slices.Equal(vals, []string{"a", "b"}) {
		t.Errorf("LabelValues(job) = %q, %v; want [a b]", vals, err)
	}
	vals, _, err = q.LabelValues(context.Background(), "code", nil, labels.MustNewMatcher(labels.MatchEqual, "job", "b"))
	if err != nil || !slices.Equal(vals, []string{"500"}) {
		t.Errorf("LabelValues(code, job=b) = %q, %v; want [500]", vals, err)
	}
	names, _, err := q.LabelNames(context.Background(), nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "c"))
	if err != nil || !slices.Equal(names, []string{"__name__", "job"}) {
		t.Errorf("LabelNames(c) = %q, %v; want [__name__ job]", names, err)
	}
}

func TestAddErrors(t *testing.T) {
	lset := labels.FromStrings("__name__", "x")
	cases := []struct {
		name   string
		first  []int64
		second []int64
		want   string
	}{
		{"unsorted", []int64{2, 1}, nil, `series {__name__="x"}: timestamps must be strictly ascending, 1 follows 2`},
		{"duplicate", []int64{1, 1}, nil, `series {__name__="x"}: timestamps must be strictly ascending, 1 follows 1`},
		{"before_held", []int64{1, 5}, []int64{5}, `series {__name__="x"}: sample at 5 is not after the last one held at 5`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := NewDB()
			err := db.Add(lset, c.first, make([]float64, len(c.first)))
			if err == nil && c.second != nil {
				err = db.Add(lset, c.second, make([]float64, len(c.second)))
			}
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if err := NewDB().Add(lset, []int64{1}, nil); err == nil {
		t.Error("Add accepted 1 timestamp with 0 values")
	}
}

func TestQuerier(t *testing.T) {
	db := testDB(t)
	q := NewQuerier(db)
	t0 := time.UnixMilli(0).UTC()
	cases := []struct {
		name       string
		query      string
		start, end time.Time
		step       time.Duration
		want       string
	}{
		{"range_sum", `sum(req_total)`, t0.Add(time.Minute), t0.Add(3 * time.Minute), time.Minute,
			"{} 60000:2 120000:4 180000:6\n"},
		{"range_by", `sum by (code) (req_total)`, t0, t0.Add(time.Minute), time.Minute,
			"{code=\"200\"} 0:0 60000:1\n{code=\"500\"} 0:0 60000:1\n"},
		{"instant_vector", `req_total{code="500"}`, t0.Add(5 * time.Minute), t0.Add(5 * time.Minute), time.Minute,
			"{__name__=\"req_total\",code=\"500\",job=\"b\"} 300000:5\n"},
		{"instant_scalar", `scalar(sum(req_total)) * 2`, t0.Add(2 * time.Minute), t0.Add(2 * time.Minute), time.Minute,
			"{} 120000:8\n"},
		{"range_left_open", `count_over_time(c[1m])`, t0.Add(time.Minute), t0.Add(time.Minute), time.Minute,
			"{job=\"a\"} 60000:6\n"},
		// The last sample is at 9m; the 5m lookback is left-open, so 14m no longer sees it.
		{"lookback_5m", `req_total{code="200"}`, t0.Add(13 * time.Minute), t0.Add(15 * time.Minute), time.Minute,
			"{__name__=\"req_total\",code=\"200\",job=\"a\"} 780000:9\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			series, err := q.QueryRange(context.Background(), c.query, c.start, c.end, c.step)
			if err != nil {
				t.Fatal(err)
			}
			if got := format(series); got != c.want {
				t.Errorf("result\n got %s\nwant %s", got, c.want)
			}
		})
	}
	if _, err := q.QueryRange(context.Background(), `sum(`, t0, t0, time.Minute); err == nil || !strings.Contains(err.Error(), `preparing query "sum("`) {
		t.Errorf("bad query: error %v", err)
	}
	if _, err := q.QueryRange(context.Background(), `"text"`, t0, t0, time.Minute); err == nil || !strings.Contains(err.Error(), "returned a string") {
		t.Errorf("string result: error %v", err)
	}
}

// format prints series as `labels t:v t:v`, sorted, labels without spaces.
func format(series []sli.Series) string {
	var lines []string
	for _, s := range series {
		l := labels.FromMap(s.Labels).String()
		l = strings.ReplaceAll(l, ", ", ",")
		var b strings.Builder
		b.WriteString(l)
		for _, p := range s.Points {
			b.WriteString(" " + strconvMillis(p.T) + ":" + strconvFloat(p.V))
		}
		lines = append(lines, b.String())
	}
	slices.Sort(lines)
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
