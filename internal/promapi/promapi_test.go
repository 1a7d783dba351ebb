package promapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProm is a hand-written Prometheus API: every query returns one series whose value at t is
// t in seconds (or NaN / nothing / an error on demand), and it records what it was asked.
type fakeProm struct {
	mu       sync.Mutex
	requests []*http.Request
	forms    []map[string]string
	inflight int
	maxIn    int
	status   int    // non-zero: answer with this HTTP status
	errType  string // with status 400/422: a Prometheus API error body
	nan      bool
	empty    bool
	warning  string
	block    bool // wait until the client gives up
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r)
	form := map[string]string{"path": r.URL.Path}
	for k := range r.Form {
		form[k] = r.Form.Get(k)
	}
	f.forms = append(f.forms, form)
	f.inflight++
	if f.inflight > f.maxIn {
		f.maxIn = f.inflight
	}
	status, errType, nan, empty, warning, block := f.status, f.errType, f.nan, f.empty, f.warning, f.block
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }()
	if block {
		<-r.Context().Done()
		return
	}
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if errType != "" {
			fmt.Fprintf(w, `{"status":"error","errorType":%q,"error":"refused"}`, errType)
		} else {
			fmt.Fprint(w, "upstream trouble")
		}
		return
	}
	val := func(t float64) string {
		if nan {
			return "NaN"
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	var data any
	switch strings.TrimPrefix(r.URL.Path, "/prom") {
	case "/api/v1/query":
		ts, _ := strconv.ParseFloat(r.Form.Get("time"), 64)
		res := []any{}
		if !empty {
			res = append(res, map[string]any{"metric": map[string]string{"job": "x"}, "value": []any{ts, val(ts)}})
		}
		data = map[string]any{"resultType": "vector", "result": res}
	case "/api/v1/query_range":
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		if (end-start)/step+1 > 11000 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"}`)
			return
		}
		res := []any{}
		if !empty {
			var vals []any
			for t := start; t <= end; t += step {
				vals = append(vals, []any{t, val(t)})
			}
			res = append(res, map[string]any{"metric": map[string]string{"job": "x"}, "values": vals})
		}
		data = map[string]any{"resultType": "matrix", "result": res}
	default:
		http.NotFound(w, r)
		return
	}
	body := map[string]any{"status": "success", "data": data}
	if warning != "" {
		body["warnings"] = []string{warning}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func newClient(t *testing.T, url string, mod func(*Config), opt Options) *Client {
	t.Helper()
	cfg := Config{URL: url, Timeout: 5 * time.Second, MaxConcurrentQueries: 4}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInstantAndRange(t *testing.T) {
	f := &fakeProm{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var obs []Observation
	var mu sync.Mutex
	c := newClient(t, srv.URL, nil, Options{Observe: func(o Observation) { mu.Lock(); obs = append(obs, o); mu.Unlock() }})
	at := time.Unix(1_800_000_000, 0).UTC()

	got, err := c.QueryRange(context.Background(), "up", at, at, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Points) != 1 || !got[0].Points[0].T.Equal(at) || got[0].Points[0].V != float64(at.Unix()) || got[0].Labels["job"] != "x" {
		t.Errorf("instant: got %+v", got)
	}
	if f.forms[0]["path"] != "/api/v1/query" || f.forms[0]["query"] != "up" {
		t.Errorf("instant query sent as %v", f.forms[0])
	}

	got, err = c.QueryRange(context.Background(), "up", at, at.Add(10*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Points) != 11 {
		t.Fatalf("range: got %+v", got)
	}
	if f.forms[1]["path"] != "/api/v1/query_range" || f.forms[1]["step"] != "60" || f.forms[1]["timeout"] == "" {
		t.Errorf("range query sent as %v", f.forms[1])
	}
	if len(obs) != 2 || obs[0].Result != ResultSuccess {
		t.Errorf("observations: %+v", obs)
	}
}

func TestRangeSplitUnderPointLimit(t *testing.T) {
	cases := []struct {
		name      string
		steps     int // points = steps+1
		wantParts int
	}{
		{"fits", MaxPointsPerQuery - 1, 1},
		{"one over", MaxPointsPerQuery, 2},
		{"30d of 1m", 30 * 24 * 60, 5},
		{"90d of 1m", 90 * 24 * 60, 13},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeProm{}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := newClient(t, srv.URL, func(p *Config) { p.MaxConcurrentQueries = 2 }, Options{})
			start := time.Unix(1_800_000_000, 0).UTC()
			end := start.Add(time.Duration(tc.steps) * time.Minute)
			got, err := c.QueryRange(context.Background(), "x", start, end, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.forms) != tc.wantParts {
				t.Errorf("requests: got %d, want %d", len(f.forms), tc.wantParts)
			}
			if f.maxIn > 2 {
				t.Errorf("in flight: %d exceeds the bound of 2", f.maxIn)
			}
			if len(got) != 1 {
				t.Fatalf("series: %d", len(got))
			}
			pts := got[0].Points
			if len(pts) != tc.steps+1 {
				t.Fatalf("points: got %d, want %d", len(pts), tc.steps+1)
			}
			for i, p := range pts {
				if want := start.Add(time.Duration(i) * time.Minute); !p.T.Equal(want) {
					t.Fatalf("point %d at %v, want %v (chunks overlap or leave a gap)", i, p.T, want)
				}
			}
		})
	}
}

func TestAuthHeadersAndTLS(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	pwFile := filepath.Join(dir, "pw")
	write := func(p, v string) {
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(tokenFile, "tok-1")
	write(pwFile, "pw-1")

	f := &fakeProm{}
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	write(caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	at := time.Unix(1_800_000_000, 0)

	bearer := newClient(t, srv.URL, func(p *Config) {
		p.BearerTokenFile = tokenFile
		p.Headers = map[string]string{"X-Scope-OrgID": "team-a"}
		p.TLS.CAFile = caFile
	}, Options{})
	basic := newClient(t, srv.URL, func(p *Config) {
		p.BasicAuth = &BasicAuth{Username: "slod", PasswordFile: pwFile}
		p.TLS.CAFile = caFile
	}, Options{})
	untrusted := newClient(t, srv.URL, nil, Options{})
	insecure := newClient(t, srv.URL, func(p *Config) { p.TLS.InsecureSkipVerify = true }, Options{})

	steps := []struct {
		name   string
		c      *Client
		before func()
		check  func(r *http.Request) error
		errOK  bool
	}{
		{"bearer and tenant", bearer, nil, func(r *http.Request) error {
			if r.Header.Get("Authorization") != "Bearer tok-1" || r.Header.Get("X-Scope-OrgID") != "team-a" {
				return fmt.Errorf("headers %v", r.Header)
			}
			return nil
		}, false},
		{"rotated token is re-read", bearer, func() { write(tokenFile, "tok-2") }, func(r *http.Request) error {
			if r.Header.Get("Authorization") != "Bearer tok-2" {
				return fmt.Errorf("authorization %q", r.Header.Get("Authorization"))
			}
			return nil
		}, false},
		{"basic auth from file", basic, func() { write(pwFile, "pw-2") }, func(r *http.Request) error {
			u, p, ok := r.BasicAuth()
			if !ok || u != "slod" || p != "pw-2" {
				return fmt.Errorf("basic auth %q %q %v", u, p, ok)
			}
			return nil
		}, false},
		{"unknown CA refused", untrusted, nil, nil, true},
		{"insecure_skip_verify", insecure, nil, func(*http.Request) error { return nil }, false},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		n := len(f.requests)
		_, err := s.c.QueryRange(context.Background(), "up", at, at, time.Minute)
		if s.errOK {
			if err == nil {
				t.Errorf("%s: no error", s.name)
			} else if Reason(err) != ReasonNetwork {
				t.Errorf("%s: reason %q", s.name, Reason(err))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if len(f.requests) != n+1 {
			t.Fatalf("%s: no request", s.name)
		}
		if err := s.check(f.requests[n]); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
}

func TestErrorsClassified(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cases := []struct {
		name       string
		fake       *fakeProm
		url        string
		timeout    time.Duration
		wantReason string
		wantResult Result
	}{
		{"5xx", &fakeProm{status: 503}, "", 0, ReasonServer, ResultError},
		{"bad query", &fakeProm{status: 400, errType: "bad_data"}, "", 0, ReasonClient, ResultError},
		{"execution", &fakeProm{status: 422, errType: "execution"}, "", 0, ReasonClient, ResultError},
		{"403", &fakeProm{status: 403}, "", 0, ReasonClient, ResultError},
		{"timeout", &fakeProm{block: true}, "", 50 * time.Millisecond, ReasonTimeout, ResultError},
		{"network", &fakeProm{}, closedURL, 0, ReasonNetwork, ResultError},
		{"empty", &fakeProm{empty: true}, "", 0, "", ResultEmpty},
		{"nan", &fakeProm{nan: true}, "", 0, "", ResultNaN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.fake)
			defer srv.Close()
			u := srv.URL
			if tc.url != "" {
				u = tc.url
			}
			var obs []Observation
			c := newClient(t, u+"/prom?secret=1", func(p *Config) {
				if tc.timeout > 0 {
					p.Timeout = tc.timeout
				}
			}, Options{Observe: func(o Observation) { obs = append(obs, o) }})
			at := time.Unix(1_800_000_000, 0)
			_, err := c.QueryRange(context.Background(), `sum(rate(x{token="abc"}[5m]))`, at, at.Add(time.Hour), time.Minute)
			if tc.wantReason != "" {
				if err == nil {
					t.Fatal("no error")
				}
				if got := Reason(err); got != tc.wantReason {
					t.Errorf("reason: got %q, want %q (%v)", got, tc.wantReason, err)
				}
				if strings.Contains(err.Error(), "secret=1") || strings.Contains(err.Error(), "token") {
					t.Errorf("error leaks the URL query or PromQL: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(obs) != 1 || obs[0].Result != tc.wantResult || obs[0].Reason != tc.wantReason {
				t.Errorf("observations: %+v", obs)
			}
		})
	}
}

func TestNaNValuesKept(t *testing.T) {
	srv := httptest.NewServer(&fakeProm{nan: true})
	defer srv.Close()
	c := newClient(t, srv.URL, nil, Options{})
	at := time.Unix(1_800_000_000, 0)
	got, err := c.QueryRange(context.Background(), "x", at, at.Add(2*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Points) != 3 || !math.IsNaN(got[0].Points[0].V) {
		t.Errorf("got %+v", got)
	}
}

func TestWarningsLogged(t *testing.T) {
	srv := httptest.NewServer(&fakeProm{warning: "partial response"})
	defer srv.Close()
	var buf bytes.Buffer
	c := newClient(t, srv.URL, nil, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	at := time.Unix(1_800_000_000, 0)
	if _, err := c.QueryRange(context.Background(), "x", at, at, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "partial response") {
		t.Errorf("warning not logged: %q", buf.String())
	}
	var ctxBuf bytes.Buffer
	ctx := ContextWithLogger(context.Background(), slog.New(slog.NewTextHandler(&ctxBuf, nil)).With("cycle_id", "c1"))
	if _, err := c.QueryRange(ctx, "x", at, at, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ctxBuf.String(), "cycle_id=c1") || !strings.Contains(ctxBuf.String(), "partial response") {
		t.Errorf("warning not logged through the context's logger: %q", ctxBuf.String())
	}
}

func TestCanceledContext(t *testing.T) {
	srv := httptest.NewServer(&fakeProm{})
	defer srv.Close()
	c := newClient(t, srv.URL, nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	at := time.Unix(1_800_000_000, 0)
	_, err := c.QueryRange(ctx, "x", at, at, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}

// TestGzipResponses: the client asks for gzip and decompresses it (with pooled readers, query
// after query, concurrently); a server that does not compress is read as is.
func TestGzipResponses(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			var asked sync.Map
			fake := &fakeProm{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Store(r.Header.Get("Accept-Encoding"), true)
				if !compress {
					fake.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				fake.ServeHTTP(rec, r)
				w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
				w.Header().Set("Content-Encoding", "gzip")
				w.WriteHeader(rec.Code)
				z := gzip.NewWriter(w)
				z.Write(rec.Body.Bytes())
				z.Close()
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, nil, Options{})
			t0 := time.Unix(1_800_000_000, 0).UTC()
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					end := t0.Add(time.Duration(i) * time.Minute)
					got, err := c.QueryRange(context.Background(), "up", t0, end, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) != 1 || len(got[0].Points) != i+1 || got[0].Points[i].V != float64(end.Unix()) {
						t.Errorf("query %d: %+v", i, got)
					}
				})
			}
			wg.Wait()
			if _, ok := asked.Load("gzip"); !ok {
				t.Error("the client did not ask for gzip")
			}
		})
	}
}

// TestReason: the one classifier of source errors names the transport class of a query that
// failed, however deeply the caller wrapped it, and "invalid" when no query was sent.
func TestReason(t *testing.T) {
	server := &QueryError{Reason: ReasonServer, Base: "http://prom", err: errors.New("503")}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"query error", server, ReasonServer},
		{"wrapped query error", fmt.Errorf("fetching chat-api/availability: %w", server), ReasonServer},
		{"waiting for a query slot timed out", fmt.Errorf("waiting to query http://prom: %w", context.DeadlineExceeded), ReasonTimeout},
		{"canceled", fmt.Errorf("waiting to query http://prom: %w", context.Canceled), ReasonCanceled},
		{"network error outside a query", refused, ReasonNetwork},
		{"no query sent", errors.New(`building queries: unsupported template {{.Window}}`), ReasonInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reason(tc.err); got != tc.want {
				t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
