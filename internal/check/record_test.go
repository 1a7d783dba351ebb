package check_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/recorded"
)

func TestResample(t *testing.T) {
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
			got, err := check.Resample(context.Background(), q, tc.selectors, t0, t0.Add(10*time.Minute), time.Minute)
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

// TestRecordRawSamples: Record returns every sample as stored, at its own timestamp, whatever the
// chunk (a sample on a chunk boundary once), and nothing outside [from, to]. Samples 7 to 23 s
// apart, a gap and a sample exactly at from and at to: resampling at 30s, as slod record did,
// moves, loses and repeats them.
func TestRecordRawSamples(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db := recorded.NewDB()
	var ts []int64
	var vs []float64
	at := t0.Add(-61 * time.Second)
	for i := 0; at.Before(t0.Add(2 * time.Hour)); i++ {
		if !(at.After(t0.Add(40*time.Minute)) && at.Before(t0.Add(55*time.Minute))) {
			ts = append(ts, at.UnixMilli())
			vs = append(vs, float64(i))
		}
		at = at.Add(time.Duration(7+16*(i%2)) * time.Second)
	}
	from, to := t0, t0.Add(90*time.Minute)
	ts = append(ts, from.UnixMilli(), to.UnixMilli())
	vs = append(vs, -1, -2)
	sortPairs(ts, vs)
	if err := db.Add(labels.FromStrings("__name__", "req_total", "code", "200"), ts, vs); err != nil {
		t.Fatal(err)
	}
	if err := db.Add(labels.FromStrings("__name__", "other_total"), ts, vs); err != nil {
		t.Fatal(err)
	}
	var want []check.Sample
	for i, ms := range ts {
		if ms >= from.UnixMilli() && ms <= to.UnixMilli() {
			want = append(want, check.Sample{T: ms, V: vs[i]})
		}
	}
	q := recorded.NewQuerier(db)
	for _, chunk := range []time.Duration{time.Hour, 7 * time.Minute, 23 * time.Second, 3 * time.Hour} {
		got, err := check.Record(context.Background(), q, []string{`req_total`, `req_total{code="200"}`}, from, to, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || fmt.Sprint(got[0].Samples) != fmt.Sprint(want) {
			t.Fatalf("chunk %s: %d series, samples\n%v\nwant\n%v", chunk, len(got), got, want)
		}
	}
	resampled, err := check.Resample(context.Background(), q, []string{`req_total`}, from, to, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(resampled[0].Samples) == fmt.Sprint(want) {
		t.Fatal("resampling keeps the samples: the test shows nothing")
	}
	if _, err := check.Record(context.Background(), q, []string{`sum(req_total)`}, from, to, time.Hour); err == nil {
		t.Error("an aggregation recorded: want an error, a recording needs series")
	}
}

// sortPairs sorts timestamps and their values together by time.
func sortPairs(ts []int64, vs []float64) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}
