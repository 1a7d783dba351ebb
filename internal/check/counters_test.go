package check_test

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/recorded"
)

// minuteCounters records the counter metric{code="200"} and metric{code="500"} scraped every
// minute from start to end, 10 s into each minute: the sample after t0 adds the good and bad
// events that perMinute(t0) gives, the events of the step (t0, t0+1m].
func minuteCounters(t *testing.T, metric string, start, end time.Time, perMinute func(t0 time.Time) (good, bad float64)) *recorded.DB {
	t.Helper()
	var ts []int64
	var good, bad []float64
	g, b := 0.0, 0.0
	for t0 := start; !t0.After(end); t0 = t0.Add(time.Minute) {
		dg, db := perMinute(t0)
		g, b = g+dg, b+db
		ts = append(ts, t0.Add(10*time.Second).UnixMilli())
		good, bad = append(good, g), append(bad, b)
	}
	db := recorded.NewDB()
	for _, s := range []struct {
		code string
		vs   []float64
	}{{"200", good}, {"500", bad}} {
		if err := db.Add(labels.FromStrings("__name__", metric, "code", s.code), ts, s.vs); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
