package recorded

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// TestIntervals: a series' interval is its scrape interval, which a long gap does not change; a
// series with one sample has none; each series is listed once.
func TestIntervals(t *testing.T) {
	db := NewDB()
	add := func(lset labels.Labels, every time.Duration, n int, gapAfter int) {
		t.Helper()
		var ts []int64
		var vs []float64
		at := int64(0)
		for i := 0; i < n; i++ {
			ts, vs = append(ts, at), append(vs, float64(i))
			at += every.Milliseconds()
			if i == gapAfter {
				at += time.Hour.Milliseconds()
			}
		}
		if err := db.Add(lset, ts, vs); err != nil {
			t.Fatal(err)
		}
	}
	add(labels.FromStrings("__name__", "req_total", "code", "200"), 15*time.Second, 3000, 100)
	add(labels.FromStrings("__name__", "req_total", "code", "500"), time.Minute, 50, -1)
	add(labels.FromStrings("__name__", "once"), time.Minute, 1, -1)
	add(labels.FromStrings("__name__", "unread"), time.Second, 10, -1)
	got, err := db.Intervals([]string{`req_total`, `req_total{code="500"}`, `once`})
	if err != nil {
		t.Fatal(err)
	}
	want := []SeriesInterval{{`req_total{code="200"}`, 15 * time.Second}, {`req_total{code="500"}`, time.Minute}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("intervals %v, want %v", got, want)
	}
	if _, err := db.Intervals([]string{`sum(x)`}); err == nil {
		t.Error("an aggregation taken for a selector")
	}
}
