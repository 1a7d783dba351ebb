package daemon

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/sli"
)

// TestLatencyThresholdNotABucket: the daemon reports a latency threshold that is no bucket of the
// histogram as the SLO's source error (reason invalid), with the message slod check and slod test
// print, in the log and the API; the SLO gets no data (before, every request read as fast enough:
// a full budget and never a page).
func TestLatencyThresholdNotABucket(t *testing.T) {
	h := newHarness(t)
	writeFile(t, filepath.Join(h.dir, "rules", "shop.yaml"), `version: slod/v1
service: shop
slos:
  - name: latency
    objective: 99
    sli:
      latency:
        histogram: req_seconds{job="svc"}
        threshold: 0.42
    alerting:
      windows: [{severity: page, long: 1h, short: 5m, burn_rate: 14.4}]
`)
	db := recorded.NewDB()
	for i, le := range []string{"0.3", "1", "+Inf", ""} {
		lset := labels.FromStrings("__name__", "req_seconds_bucket", "job", "svc", "le", le)
		if le == "" {
			lset = labels.FromStrings("__name__", "req_seconds_count", "job", "svc")
		}
		var ts []int64
		var vs []float64
		for m := -180; m <= 0; m++ {
			ts = append(ts, t0.Add(time.Duration(m)*time.Minute).UnixMilli())
			vs = append(vs, float64((m+180)*(i+1)))
		}
		if err := db.Add(lset, ts, vs); err != nil {
			t.Fatal(err)
		}
	}
	h.tweak = func(o *Options) {
		o.NewQuerier = func(promapi.Config, promapi.Options) (sli.Querier, error) { return recorded.NewQuerier(db), nil }
	}
	h.restart()
	h.cycle(t0)
	const want = `no bucket le="0.42" in req_seconds_bucket{job="svc"}; buckets: 0.3, 1, +Inf`
	views := h.d.sloViews()
	if len(views) != 1 || views[0].SourceError != "invalid" || views[0].SourceErrorMessage != want || views[0].LastData != nil {
		t.Fatalf("API view %+v, want source error invalid: %s, and no data", views, want)
	}
	quoted, _ := json.Marshal(want)
	if !strings.Contains(h.logs.String(), string(quoted)) {
		t.Errorf("the log does not say %s:\n%s", want, h.logs.String())
	}
}
