package check_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/recorded"
)

func TestRecord(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db := recorded.NewDB()
	var ts []int64
	var vs []float64
	for i := 0; i <= 10; i++ {
		ts = append(ts, t0.Add(time.Duration(i)*time.Minute).UnixMilli())
		vs = append(vs, float64(i))
	}
	for _, code := range []string{"200", "500"} {
		if err := db.Add(labels.FromStrings("__name__", "req_total", "code", code), ts, vs); err != nil {
			t.Fatal(err)
		}
	}
	q := recorded.NewQuerier(db)
	tests := []struct {
		name       string
		selectors  []string
		wantSeries int
		wantErr    string
	}{
		{"one selector", []string{`req_total{code="500"}`}, 1, ""},
		{"overlapping selectors keep each series once", []string{`req_total`, `req_total{code=~"5.."}`}, 2, ""},
		{"nothing matches", []string{`nope_total`}, 0, ""},
		{"not a raw selector", []string{`sum(req_total)`}, 0, "no metric name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := check.Record(context.Background(), q, tc.selectors, t0, t0.Add(10*time.Minute), time.Minute)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantSeries {
				t.Fatalf("%d series, want %d", len(got), tc.wantSeries)
			}
			for _, s := range got {
				if len(s.Samples) != 11 || s.Samples[10].V != 10 || s.Samples[10].T != t0.Add(10*time.Minute).UnixMilli() {
					t.Errorf("%s: samples %v", s.Name(), s.Samples)
				}
			}
		})
	}
}
