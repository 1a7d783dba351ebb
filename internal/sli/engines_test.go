package sli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/fidelity"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// The rewritten queries must give the same increments on every engine slod talks to: the embedded
// engine over recorded data (slod check), Prometheus 2.42 and VictoriaMetrics (slod run). This test
// writes one recording, loads it into all three and compares every step of every SLI kind.

var enginesStart = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

type recSeries struct {
	labels  string // {a="b",…} with the name inside, sorted as written
	name    string
	samples []sample
}

func every(offset, interval time.Duration, until time.Duration, f func(i int) (float64, bool)) []sample {
	var out []sample
	for i := 0; offset+time.Duration(i)*interval < until; i++ {
		if v, ok := f(i); ok {
			out = append(out, sample{enginesStart.Add(offset + time.Duration(i)*interval), v})
		}
	}
	return out
}

func enginesRecording() []recSeries {
	const span = 3 * time.Hour
	var out []recSeries
	// job a: 10 s scrapes at :03, steady traffic with noise, errors in bursts.
	out = append(out,
		recSeries{`{code="200",job="a"}`, "req_total", every(3*time.Second, 10*time.Second, span, func(i int) (float64, bool) {
			return float64(i*53 + (i*i)%11), true
		})},
		recSeries{`{code="500",job="a"}`, "req_total", every(3*time.Second, 10*time.Second, span, func(i int) (float64, bool) {
			if i > 400 && i < 460 {
				return float64(i/5 + 4*(i-400)), true
			}
			if i >= 460 {
				return float64(i/5 + 240), true
			}
			return float64(i / 5), true
		})},
	)
	// job b: 60 s scrapes at :17, a reset after 1h, a 3-minute scrape gap after 2h.
	gap := func(i int) bool { return i >= 120 && i < 123 }
	out = append(out,
		recSeries{`{code="200",job="b"}`, "req_total", every(17*time.Second, time.Minute, span, func(i int) (float64, bool) {
			if gap(i) {
				return 0, false
			}
			if i >= 60 {
				return float64(300 * (i - 59)), true
			}
			return float64(1000 + 290*i), true
		})},
		recSeries{`{code="500",job="b"}`, "req_total", every(17*time.Second, time.Minute, span, func(i int) (float64, bool) {
			if gap(i) {
				return 0, false
			}
			if i >= 60 {
				return float64(3 * (i - 59)), true
			}
			return float64(2*i + i%3), true
		})},
	)
	// job c: a latency histogram, 30 s scrapes at :00, slower from 1h30.
	slow := func(i int) float64 {
		if i < 180 {
			return float64(2 * i)
		}
		return float64(360 + 20*(i-180))
	}
	count := func(i int) float64 { return float64(100 * i) }
	for _, b := range []struct {
		le string
		f  func(int) float64
	}{
		{"0.1", func(i int) float64 { return count(i) - slow(i) - float64(40*i) }},
		{"0.3", func(i int) float64 { return count(i) - slow(i) }},
		{"+Inf", count},
	} {
		out = append(out, recSeries{`{job="c",le="` + b.le + `"}`, "rpc_seconds_bucket", every(0, 30*time.Second, span, func(i int) (float64, bool) { return b.f(i), true })})
	}
	out = append(out, recSeries{`{job="c"}`, "rpc_seconds_count", every(0, 30*time.Second, span, func(i int) (float64, bool) { return count(i), true })})
	// job d: 30 s scrapes at :05 that only begin after 1h, a small drop at 1h30 (a counter reset
	// VictoriaMetrics could mistake for jitter) and a 12-minute gap (longer than the lookback) at 2h.
	for _, code := range []string{"200", "500"} {
		k := 40.0
		if code == "500" {
			k = 3
		}
		out = append(out, recSeries{`{code="` + code + `",job="d"}`, "req_total", every(5*time.Second, 30*time.Second, span, func(i int) (float64, bool) {
			switch {
			case i < 120 || (i >= 240 && i < 264):
				return 0, false
			case i >= 180:
				return k * float64(i-30), true
			}
			return 100*k + k*float64(i-120), true
		})})
	}
	// A memory ratio gauge, 15 s scrapes at :07, above 0.9 for a while.
	out = append(out, recSeries{`{pod="x"}`, "mem_ratio", every(7*time.Second, 15*time.Second, span, func(i int) (float64, bool) {
		if i >= 300 && i < 340 {
			return 0.95, true
		}
		return 0.5 + float64(i%10)/100, true
	})})
	return out
}

// writeOpenMetrics writes what `promtool tsdb dump-openmetrics` would (timestamps in seconds).
func writeOpenMetrics(w io.Writer, rec []recSeries) {
	for _, s := range rec {
		for _, p := range s.samples {
			fmt.Fprintf(w, "%s%s %s %.3f\n", s.name, s.labels, strconv.FormatFloat(p.v, 'g', -1, 64), float64(p.t.UnixMilli())/1000)
		}
	}
	io.WriteString(w, "# EOF\n")
}

// writePrometheusText writes the Prometheus text format with millisecond timestamps, which
// VictoriaMetrics imports at /api/v1/import/prometheus.
func writePrometheusText(w io.Writer, rec []recSeries) {
	for _, s := range rec {
		for _, p := range s.samples {
			fmt.Fprintf(w, "%s%s %s %d\n", s.name, s.labels, strconv.FormatFloat(p.v, 'g', -1, 64), p.t.UnixMilli())
		}
	}
}

func enginesSLOs() []*rules.SLO {
	return []*rules.SLO{
		{Service: "a", Name: "events_rate", SLI: rules.SLI{Kind: rules.EventsSLI,
			ErrorQuery: `sum(rate(req_total{job="a",code=~"5.."}[{{.window}}]))`, TotalQuery: `sum(rate(req_total{job="a"}[{{.window}}]))`}},
		{Service: "b", Name: "events_increase_60s_reset_gap", SLI: rules.SLI{Kind: rules.EventsSLI,
			ErrorQuery: `sum(increase(req_total{job="b",code=~"5.."}[{{ .window }}]))`, TotalQuery: `sum by (job) (increase(req_total{job="b"}[{{ .window }}]))`}},
		{Service: "d", Name: "events_start_drop_long_gap", SLI: rules.SLI{Kind: rules.EventsSLI,
			ErrorQuery: `sum(rate(req_total{job="d",code="500"}[{{.window}}]))`, TotalQuery: `sum(increase(req_total{job="d"}[{{.window}}]))`}},
		{Service: "c", Name: "latency", SLI: rules.SLI{Kind: rules.LatencySLI, Histogram: `rpc_seconds{job="c"}`, Threshold: 0.3}},
		{Service: "x", Name: "timeslice", SLI: rules.SLI{Kind: rules.TimesliceSLI,
			Query: `max(avg_over_time(mem_ratio{pod="x"}[{{.window}}]))`, Op: rules.OpLTE, Threshold: 0.9, Slice: 5 * time.Minute}},
		{Service: "x", Name: "timeslice_instant", SLI: rules.SLI{Kind: rules.TimesliceSLI,
			Query: `max(mem_ratio{pod="x"})`, Op: rules.OpLTE, Threshold: 0.9}},
		{Service: "b", Name: "sloth_ratio", SLI: rules.SLI{Kind: rules.RatioSLI,
			ErrorRatioQuery: `sum(rate(req_total{job="b",code=~"5.."}[{{.window}}])) / sum(rate(req_total{job="b"}[{{.window}}]))`}},
	}
}

func TestEnginesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and VictoriaMetrics")
	}
	rec := enginesRecording()
	dir := t.TempDir()
	var om bytes.Buffer
	writeOpenMetrics(&om, rec)
	omFile := filepath.Join(dir, "rec.om")
	if err := os.WriteFile(omFile, om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := recorded.ParseFile(omFile)
	if err != nil {
		t.Fatal(err)
	}
	// The embedded engine gets the subquery form of the step difference (DESIGN §2), remote engines
	// the portable form. Prometheus 2.42 is also asked the subquery form, which it must evaluate as
	// Prometheus 3 does. VictoriaMetrics is not: its irate takes a small counter drop for jitter
	// and yields 0 at the step a series leaves the lookback (job d), which is why the portable form
	// exists.
	engines := []struct {
		name     string
		q        func(t *testing.T) sli.Querier
		subquery bool
	}{
		{"prometheus-2.42", func(t *testing.T) sli.Querier {
			return httpQuerier(t, fidelity.StartOnRecording(t, omFile).URL)
		}, true},
		{"victoriametrics", func(t *testing.T) sli.Querier {
			var text bytes.Buffer
			writePrometheusText(&text, rec)
			return httpQuerier(t, startVictoriaMetrics(t, &text))
		}, false},
	}
	start, end := enginesStart.Add(15*time.Minute), enginesStart.Add(3*time.Hour-time.Minute)
	embedded := recorded.NewQuerier(db)
	if _, ok := embedded.(sli.PrometheusEngine); !ok {
		t.Fatal("the embedded engine does not get the subquery form")
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			remote := e.q(t)
			forms := []struct {
				name string
				q    sli.Querier
			}{{"portable", remote}}
			if e.subquery {
				forms = append(forms, struct {
					name string
					q    sli.Querier
				}{"subquery", prometheusEngine{remote}})
			}
			for _, slo := range enginesSLOs() {
				for _, f := range forms {
					t.Run(slo.Name+"/"+f.name, func(t *testing.T) {
						want, err := sli.Increments(context.Background(), embedded, slo, start, end, sli.Options{})
						if err != nil {
							t.Fatal(err)
						}
						got, err := sli.Increments(context.Background(), f.q, slo, start, end, sli.Options{})
						if err != nil {
							t.Fatal(err)
						}
						compareIncrements(t, got, want)
					})
				}
			}
		})
	}
}

// prometheusEngine marks a remote Querier as Prometheus's engine, so that it gets the subquery form.
type prometheusEngine struct{ sli.Querier }

func (prometheusEngine) PrometheusEngine() {}

func compareIncrements(t *testing.T, got, want []burnrate.Increment) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d increments, want %d", len(got), len(want))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	bad, total, missing, diffs := 0.0, 0.0, 0, 0
	for i := range want {
		g, w := got[i], want[i]
		if !g.End.Equal(w.End) || g.Missing != w.Missing || !close(g.Bad, w.Bad) || !close(g.Total, w.Total) {
			if diffs++; diffs <= 5 {
				t.Errorf("step %s: got %+v, embedded engine %+v", w.End.Format(time.RFC3339), g, w)
			}
		}
		bad += w.Bad
		total += w.Total
		if w.Missing {
			missing++
		}
	}
	if diffs > 5 {
		t.Errorf("… %d steps differ in all", diffs)
	}
	// A comparison of empty results proves nothing.
	if bad == 0 || total == 0 || missing == len(want) {
		t.Errorf("degenerate data: Σbad %v, Σtotal %v, %d of %d steps missing", bad, total, missing, len(want))
	}
}

// httpQuerier is a minimal sli.Querier over the Prometheus HTTP API, which VictoriaMetrics serves
// too.
type httpAPI struct{ api v1.API }

func httpQuerier(t *testing.T, url string) sli.Querier {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	return httpAPI{v1.NewAPI(c)}
}

func (h httpAPI) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	var (
		v   model.Value
		err error
	)
	if start.Equal(end) {
		v, _, _, err = h.api.Query(ctx, query, start)
	} else {
		v, _, _, err = h.api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step})
	}
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	var out []sli.Series
	switch m := v.(type) {
	case model.Matrix:
		for _, s := range m {
			ser := sli.Series{Labels: map[string]string{}}
			for k, v := range s.Metric {
				ser.Labels[string(k)] = string(v)
			}
			for _, p := range s.Values {
				ser.Points = append(ser.Points, sli.Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
			}
			out = append(out, ser)
		}
	case model.Vector:
		for _, s := range m {
			out = append(out, sli.Series{Points: []sli.Point{{T: s.Timestamp.Time().UTC(), V: float64(s.Value)}}})
		}
	default:
		return nil, fmt.Errorf("query %q: unexpected %s result", query, v.Type())
	}
	return out, nil
}

// startVictoriaMetrics runs a single-node VictoriaMetrics on 127.0.0.1, imports text (Prometheus
// text format with timestamps) and returns its URL. It skips without the binary unless CI is set.
func startVictoriaMetrics(t *testing.T, text io.Reader) string {
	t.Helper()
	bin := fidelity.Binary(t, "victoria-metrics")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin,
		"-storageDataPath="+t.TempDir(),
		"-httpListenAddr="+addr,
		"-retentionPeriod=100y",
		"-search.disableCache",
		"-loggerLevel=ERROR",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	url := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("victoria-metrics exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("victoria-metrics not ready after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	post := func(path, ctype string, body io.Reader) {
		resp, err := client.Post(url+path, ctype, body)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s: %s", path, resp.Status, msg)
		}
	}
	post("/api/v1/import/prometheus", "text/plain", text)
	resp, err := client.Get(url + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The import is searchable once every series is: wait for the series count to settle.
	want := len(enginesRecording())
	for deadline := time.Now().Add(30 * time.Second); ; {
		n := seriesCount(t, client, url)
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("victoria-metrics has %d series after the import, want %d", n, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return url
}

func seriesCount(t *testing.T, client *http.Client, url string) int {
	t.Helper()
	q := url + "/api/v1/series?match[]=" + neturl.QueryEscape(`{__name__=~".+"}`) +
		"&start=" + strconv.FormatInt(enginesStart.Unix(), 10) + "&end=" + strconv.FormatInt(enginesStart.Add(4*time.Hour).Unix(), 10)
	resp, err := client.Get(q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Count(string(body), `"__name__"`)
}
