package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

const latencyRules = `version: slod/v1
service: svc
slos:
  - name: latency
    objective: 99
    sli:
      latency:
        histogram: req_seconds{job="svc"}
        threshold: %s
`

const bucketMessage = `no bucket le="0.42" in req_seconds_bucket{job="svc"}; buckets: 0.3, 1, +Inf`

// TestLatencyThresholdNotABucket: with a threshold that is no bucket boundary, every request read
// as fast enough (100%% budget, never a page, even at 5 s per request). slod check and slod test
// exit 1 naming the SLO, the threshold and the buckets there are; a threshold that is a bucket
// passes.
func TestLatencyThresholdNotABucket(t *testing.T) {
	// Every request takes 5 s: only the +Inf bucket grows.
	var om strings.Builder
	for m := 0; m <= 120; m++ {
		ts := 1790812800 + 60*m
		for _, le := range []string{"0.3", "1"} {
			fmt.Fprintf(&om, "req_seconds_bucket{job=\"svc\",le=%q} 0 %d\n", le, ts)
		}
		fmt.Fprintf(&om, "req_seconds_bucket{job=\"svc\",le=\"+Inf\"} %d %d\nreq_seconds_count{job=\"svc\"} %d %d\n", 10*m, ts, 10*m, ts)
	}
	om.WriteString("# EOF\n")
	testFile := `rule_files: [%s]
tests:
  - name: slow
    input_series:
      - {series: 'req_seconds_bucket{job="svc",le="0.3"}', values: '0x120'}
      - {series: 'req_seconds_bucket{job="svc",le="1"}', values: '0x120'}
      - {series: 'req_seconds_bucket{job="svc",le="+Inf"}', values: '0+10x120'}
      - {series: 'req_seconds_count{job="svc"}', values: '0+10x120'}
    alert_test:
      - {eval_time: 120m, slo: svc/latency, exp_alerts: [{severity: page}, {severity: ticket}]}
`
	dir := writeFiles(t, map[string]string{
		"data.om":  om.String(),
		"bad.yaml": fmt.Sprintf(latencyRules, "0.42"), "good.yaml": fmt.Sprintf(latencyRules, "1"),
		"bad_test.yaml": fmt.Sprintf(testFile, "bad.yaml"), "good_test.yaml": fmt.Sprintf(testFile, "good.yaml"),
	})

	code, stdout, stderr := runCheckCmd(filepath.Join(dir, "bad.yaml"), "--data", filepath.Join(dir, "data.om"))
	if code != 1 || stderr != "slod check: svc/latency: "+bucketMessage+"\n" || !strings.Contains(stdout, "  error: "+bucketMessage) {
		t.Errorf("slod check: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCheckCmd(filepath.Join(dir, "good.yaml"), "--data", filepath.Join(dir, "data.om"))
	if code != 0 || !strings.Contains(stdout, "page  ") {
		t.Errorf("slod check with a bucket threshold: exit %d, no page\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"test", filepath.Join(dir, "bad_test.yaml")}, &out, &errb); code != 1 || !strings.Contains(out.String(), "svc/latency: "+bucketMessage) {
		t.Errorf("slod test: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"test", filepath.Join(dir, "good_test.yaml")}, &out, &errb); code != 0 {
		t.Errorf("slod test with a bucket threshold: exit %d\n%s", code, out.String())
	}
}
