package recorded

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/slod-dev/slod/internal/sli"
)

// TestSimplifiedQueriesAgree runs the subquery form of step differences over random counters (resets,
// scrape gaps, jitter) through QueryRange, which takes the cheaper forms of sli.SimplifySubquery
// where the data allows, and through the engine as written, and requires the very same result.
// Some trials put NaNs, staleness markers, negative values or infinities into a series: staleness
// markers must keep its queries as written, the others their NaN filter.
func TestSimplifiedQueriesAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ctx := context.Background()
	queries := []struct {
		query string
		step  time.Duration
	}{
		{`sum(rate(req_total{code=~"5.."}[{{.window}}]))`, time.Minute},
		{`sum(rate(req_total[{{.window}}]))`, time.Minute},
		{`sum by (code) (increase(req_total[{{.window}}]))`, time.Minute},
		{`sum(rate(req_total{code="500"}[{{.window}}])) / sum(rate(req_total[{{.window}}]))`, time.Minute},
		{`irate(req_total{code="200"}[{{.window}}] offset 3m)`, time.Minute},
		{`sum(increase(req_total[{{.window}}]))`, 30 * time.Second},
		{`rate(req_total[5m]) + rate(req_total[{{.window}}])`, time.Minute},
	}
	simplified := 0
	for trial := range 60 {
		db := NewDB()
		t0 := int64(1_700_000_000_000)
		dirty := ""
		for _, code := range []string{"200", "500"} {
			var ts []int64
			var vs []float64
			v, tt := 0.0, t0+int64(r.IntN(60_000))
			for range 400 {
				tt += 15_000 + int64(r.IntN(3_000))
				if r.IntN(100) == 0 {
					tt += int64(r.IntN(1_200_000)) // a scrape gap, perhaps longer than the lookback
				}
				if r.IntN(150) == 0 {
					v = 0 // a reset
				}
				v += float64(r.IntN(50))
				ts, vs = append(ts, tt), append(vs, v)
			}
			if trial%3 == 0 && code == "500" {
				for range 8 {
					i := r.IntN(len(vs))
					switch trial / 3 % 4 {
					case 0:
						vs[i], dirty = math.NaN(), "NaN"
					case 1:
						vs[i], dirty = math.Float64frombits(value.StaleNaN), "stale"
					case 2:
						vs[i], dirty = -vs[i]-1, "negative"
					case 3:
						vs[i], dirty = math.Inf(1), "Inf"
					}
				}
			}
			if err := db.Add(labels.FromStrings("__name__", "req_total", "code", code), ts, vs); err != nil {
				t.Fatal(err)
			}
		}
		q := NewQuerier(db).(*engineQuerier)
		for _, c := range queries {
			query, err := sli.RewriteSubquery(c.query, c.step, 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			start := sli.Align(time.UnixMilli(t0), c.step)
			end := start.Add(2 * time.Hour)
			want, err := q.queryRange(ctx, query, query, 0, start, end, c.step)
			if err != nil {
				t.Fatal(err)
			}
			got, err := q.QueryRange(ctx, query, start, end, c.step)
			if err != nil {
				t.Fatal(err)
			}
			if format(got) != format(want) {
				t.Fatalf("trial %d (%s), %s:\nsimplified %s\nas written %s", trial, dirty, query, format(got), format(want))
			}
			simpler, _, ok := sli.SimplifySubquery(query, db.clean)
			// Every query but one reads the series with the dirt. A staleness marker keeps its
			// queries as they are; the other dirt keeps their NaN filter.
			reads := dirty != "" && !strings.Contains(c.query, `code="200"`)
			if wantOK := !reads || dirty != "stale"; ok != wantOK {
				t.Fatalf("trial %d (%s), %s: simplified %v, want %v", trial, dirty, query, ok, wantOK)
			}
			if ok && strings.Contains(simpler, ">= 0") != reads {
				t.Fatalf("trial %d (%s), %s: simplified to %s", trial, dirty, query, simpler)
			}
			if ok {
				simplified++
			}
		}
	}
	if simplified == 0 {
		t.Error("no query took the simpler form")
	}
}
