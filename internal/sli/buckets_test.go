package sli_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// histogramDB holds req_seconds{job="svc"} with the given buckets (le as written) and another
// job's histogram with a 0.42 bucket, scraped every minute for an hour from base.
func histogramDB(t *testing.T, les ...string) *recorded.DB {
	t.Helper()
	db := recorded.NewDB()
	series := func(job string, les []string) {
		for i, le := range append(les, "") {
			lset := labels.FromStrings("__name__", "req_seconds_bucket", "job", job, "le", le)
			if le == "" {
				lset = labels.FromStrings("__name__", "req_seconds_count", "job", job)
			}
			add(t, db, lset, scrape(0, time.Minute, 61, func(n int) float64 { return float64(n * (10 + i)) }))
		}
	}
	series("svc", les)
	series("other", []string{"0.42", "+Inf"})
	return db
}

func latencySLO(threshold float64) *rules.SLO {
	return &rules.SLO{Service: "svc", Name: "latency", Objective: 0.99, Period: 24 * time.Hour,
		SLI: rules.SLI{Kind: rules.LatencySLI, Histogram: `req_seconds{job="svc"}`, Threshold: threshold}}
}

// TestCheckBuckets: a latency threshold that is no bucket boundary reads every request as fast
// (there is no bucket to subtract from _count); the increments show a total without bad events,
// and CheckBuckets names the threshold and the buckets there are.
func TestCheckBuckets(t *testing.T) {
	at := base.Add(time.Hour)
	tests := []struct {
		name      string
		threshold float64
		les       []string
		want      string
	}{
		{"no such bucket", 0.42, []string{"1", "0.3", "+Inf"}, `no bucket le="0.42" in req_seconds_bucket{job="svc"}; buckets: 0.3, 1, +Inf`},
		{"other spellings of the buckets", 2, []string{"1.0", "0.30", "+Inf"}, `no bucket le="2" in req_seconds_bucket{job="svc"}; buckets: 0.30, 1.0, +Inf`},
		{"the bucket, spelt otherwise", 0.3, []string{"0.30", "1", "+Inf"}, ""},
		{"the bucket", 1, []string{"0.3", "1", "+Inf"}, ""},
		{"no histogram at all: no data, not an error", 0.42, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := histogramDB(t, tc.les...)
			q := recorded.NewQuerier(db)
			slo := latencySLO(tc.threshold)
			p, err := sli.Prepare(slo, q, sli.Options{})
			if err != nil {
				t.Fatal(err)
			}
			incs, err := p.Increments(context.Background(), q, base.Add(30*time.Minute), at)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && !incs[len(incs)-1].NoBad {
				t.Fatalf("the last step %+v has bad events: the test shows nothing", incs[len(incs)-1])
			}
			err = p.CheckBuckets(context.Background(), q, at)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			var be *sli.BucketError
			if !errors.As(err, &be) || err.Error() != tc.want {
				t.Fatalf("error %v\nwant      %s", err, tc.want)
			}
		})
	}
	t.Run("other SLIs have nothing to check", func(t *testing.T) {
		q := recorded.NewQuerier(histogramDB(t, "1"))
		slo := eventsSLO(`sum(rate(req_seconds_count{job="nope"}[{{.window}}]))`, `sum(rate(req_seconds_count[{{.window}}]))`)
		p, err := sli.Prepare(slo, q, sli.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.CheckBuckets(context.Background(), q, at); err != nil {
			t.Fatal(err)
		}
	})
}
