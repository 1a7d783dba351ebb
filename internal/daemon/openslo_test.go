package daemon

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/notify"
)

// The harness's SLO (testRules) in OpenSLO, in two files: the SLO with its alert policy, and the
// SLI it refers to. The policy pages without resolve notifications.
const (
	openSLOSLO = `apiVersion: openslo/v1
kind: Service
metadata: {name: shop, labels: {team: web}}
spec: {}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: shop
  indicatorRef: requests
  timeWindow: [{duration: 1d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{targetPercent: 99}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: page}
      spec:
        alertWhenResolved: false
        conditions:
          - kind: AlertCondition
            metadata: {name: fast, annotations: {slod.dev/short-window: 5m}}
            spec:
              severity: critical
              condition: {kind: burnrate, op: gt, threshold: 10, lookbackWindow: 1h}
        notificationTargets: [{targetRef: oncall}]
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: oncall}
spec: {target: pagerduty}
`
	openSLOSLI = `apiVersion: openslo/v1
kind: SLI
metadata: {name: requests}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'sum(req_total{code="500"})'}}}
    total: {metricSource: {type: Prometheus, spec: {query: 'sum(req_total)'}}}
`
)

// TestOpenSLORules: slod run takes OpenSLO rule files (references across files): the daemon
// loads them through its config, pages with the policy's target as a label, sends no resolve as
// the policy asks, and keeps its last good rules when a reload brings a broken reference.
func TestOpenSLORules(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules", "slis"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules", "shop.yaml"), openSLOSLO)
	writeFile(t, filepath.Join(dir, "rules", "slis", "requests.yaml"), openSLOSLI)
	writeFile(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf(testConfig, testBearer, testRoutingKey))
	h := &harness{t: t, dir: dir, logs: &bytes.Buffer{}, src: &fakeSource{
		bad:   func(time.Time) float64 { return 0 },
		total: func(time.Time) float64 { return 10 },
	}}
	if _, set, err := LoadConfig(filepath.Join(dir, "slod.yml"), nil); err != nil || len(set.SLOs) != 1 {
		t.Fatalf("LoadConfig: %v", err)
	}
	h.open()
	t.Cleanup(h.close)
	if len(h.d.slos) != 1 || h.d.slos[0].slo.ID() != "shop/availability" || h.d.slos[0].slo.Format != "openslo/v1" {
		t.Fatalf("SLOs loaded: %+v", h.d.slos)
	}

	h.cycle(t0)
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	for i := 1; i <= 20; i++ {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
	}
	ob := h.outbox()
	if len(ob) != 1 || ob[0].Action != notify.Trigger || ob[0].DedupKey != "slod/shop/availability/page" || !ob[0].NoResolve {
		t.Fatalf("outbox after the outage: %+v", ob)
	}
	for k, v := range map[string]string{"team": "web", "notification_target": "oncall", "severity": "critical"} {
		if ob[0].Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, ob[0].Labels[k], v, ob[0].Labels)
		}
	}
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 0 } })
	for i := 21; i <= 40; i++ {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
	}
	if got := h.phase("page", false); got != "inactive" {
		t.Fatalf("page is %s after the outage", got)
	}
	if ob := h.outbox(); len(ob) != 1 {
		t.Errorf("a resolve was enqueued although the policy says alertWhenResolved: false: %+v", ob)
	}

	writeFile(t, filepath.Join(dir, "rules", "slis", "requests.yaml"), `apiVersion: openslo/v1
kind: SLI
metadata: {name: request}
spec: {thresholdMetric: {metricSource: {type: Prometheus, spec: {query: x}}}}
`)
	err := h.d.Reload()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`shop.yaml:11:17: spec.indicatorRef: no SLI named "requests"`)) {
		t.Fatalf("reload with a broken reference: %v", err)
	}
	if len(h.d.slos) != 1 || h.d.slos[0].slo.SLI.ErrorQuery == "" {
		t.Error("a failed reload changed the running SLOs")
	}
}
