// Package fidelity runs a real Prometheus (and promtool) on recorded data, for the integration tests
// that hold slod's answers against Prometheus's own: the backfilled TSDB is queried with the SRE
// Workbook's alert expressions and compared with slod's backtest of the same file.
//
// What "the same" means: alert intervals match one to one, and each start and end is within one
// evaluation step of Prometheus's. Prometheus 2.42 range selectors are left-closed ([t-w, t]: one
// sample more than slod's (t-w, t]) and rate() extrapolates to the window's edges, while slod sums
// exact per-step counter increments; near a threshold the two ratios can differ by that much.
//
// The helpers follow the project's rule for integration tests: they skip with a clear message when
// a binary is absent and CI is unset, and fail under CI=true, so CI can never pass by skipping.
package fidelity

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
)

// Binary returns the path of an executable the test needs, skipping the test when it is missing
// outside CI and failing it under CI.
func Binary(t testing.TB, name string) string {
	t.Helper()
	candidates := []string{name, "/usr/bin/" + name}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("%s not found in PATH or /usr/bin, and CI is set: integration tests must run under CI (apt-get install prometheus)", name)
	}
	t.Skipf("%s not found in PATH or /usr/bin: skipping the integration test (set CI=true to make this a failure)", name)
	return ""
}

// Backfill turns an OpenMetrics file into TSDB blocks under dir with
// `promtool tsdb create-blocks-from openmetrics`, the way an operator backfills Prometheus.
func Backfill(t testing.TB, omFile, dir string) {
	t.Helper()
	promtool := Binary(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", omFile, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics %s: %v\n%s", omFile, err, out)
	}
}

// Prometheus is a running Prometheus server on 127.0.0.1.
type Prometheus struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL string

	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

// lockedBuffer collects the server's output from its writer goroutine while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logs is what the server printed so far.
func (p *Prometheus) Logs() string { return p.logs.String() }

// StartOnRecording backfills omFile into a fresh TSDB and starts Prometheus on it. The server is
// stopped when the test ends. Retention is effectively unlimited, so that recorded data from any
// date stays queryable, and the lookback delta is pinned to Prometheus's 5m default so the
// comparison does not depend on the distribution's defaults.
func StartOnRecording(t testing.TB, omFile string) *Prometheus {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	Backfill(t, omFile, data)
	return Start(t, data, "")
}

// Start runs Prometheus on the TSDB in dataDir with the given scrape configuration (YAML for
// scrape_configs; empty for none) on a free port of 127.0.0.1, and waits (at most a minute) until it
// is ready. flags are added to its command line (--web.enable-admin-api).
func Start(t testing.TB, dataDir, scrapeConfigs string, flags ...string) *Prometheus {
	t.Helper()
	bin := Binary(t, "prometheus")
	cfgFile := filepath.Join(t.TempDir(), "prometheus.yml")
	cfg := "global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\n"
	if scrapeConfigs != "" {
		cfg += "scrape_configs:\n" + scrapeConfigs
	}
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// A port taken between closing the probe listener and Prometheus binding it makes Prometheus
	// exit at once; try a few ports before giving up.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		p, err := start(bin, cfgFile, dataDir, port, flags)
		if err == nil {
			t.Cleanup(p.stop)
			return p
		}
		lastErr = err
	}
	t.Fatalf("starting prometheus: %v", lastErr)
	return nil
}

func start(bin, cfgFile, dataDir string, port int, flags []string) (*Prometheus, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := &Prometheus{URL: "http://" + addr, logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{
		"--config.file=" + cfgFile,
		"--storage.tsdb.path=" + dataDir,
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address=" + addr,
		"--query.lookback-delta=5m",
		"--log.level=warn",
	}, flags...)...)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("prometheus exited before it was ready:\n%s", p.Logs())
		default:
		}
		resp, err := client.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("prometheus not ready after a minute:\n%s", p.Logs())
}

// stop asks Prometheus to shut down and kills it if it has not within ten seconds.
func (p *Prometheus) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CPUTime is the CPU time (user + system) the server has used so far, from /proc (Linux), for
// benchmarks that report what their queries cost Prometheus.
func (p *Prometheus) CPUTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (which may hold spaces) in parentheses: utime and stime
	// are the 12th and 13th of them, in clock ticks (100 a second on Linux).
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", p.cmd.Process.Pid, s)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", p.cmd.Process.Pid, s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// blockSpan is the span of the blocks promtool writes from OpenMetrics: 2h, aligned to multiples of
// it since the epoch.
const blockSpan = 2 * time.Hour

// BackfillSeries writes series into TSDB blocks under dir, one promtool run per 2h block. promtool
// parses its whole input once per block it writes, so Backfill on a month of data parses the file
// 360 times; a file per block parses each sample once.
func BackfillSeries(t testing.TB, series []check.Series, dir string) {
	t.Helper()
	tmp := t.TempDir()
	var minT, maxT int64 = math.MaxInt64, math.MinInt64
	for _, s := range series {
		if len(s.Samples) > 0 {
			minT, maxT = min(minT, s.Samples[0].T), max(maxT, s.Samples[len(s.Samples)-1].T)
		}
	}
	span := blockSpan.Milliseconds()
	next := make([]int, len(series)) // index of each series' first sample not written yet
	for w := minT - minT%span; w <= maxT; w += span {
		var part []check.Series
		for i, s := range series {
			j := next[i]
			for next[i] < len(s.Samples) && s.Samples[next[i]].T < w+span {
				next[i]++
			}
			if next[i] > j {
				part = append(part, check.Series{Labels: s.Labels, Samples: s.Samples[j:next[i]]})
			}
		}
		if len(part) == 0 {
			continue
		}
		file := filepath.Join(tmp, "part.om")
		var buf bytes.Buffer
		if err := check.WriteOpenMetrics(&buf, part); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		Backfill(t, file, dir)
	}
}
