package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakePagerDuty is a local Events API v2 (POST /v2/enqueue) that validates events like PagerDuty
// does and models incidents by dedup key: a trigger on an open key joins that incident, a
// resolve closes it, and a trigger after the resolve opens a new one.
type fakePagerDuty struct {
	srv *httptest.Server

	mu sync.Mutex
	// fail, when non-empty, is popped for every request: the status to answer instead of
	// processing it (0 = process normally).
	fail []int
	// failAll answers every request with this status while non-zero; resetConn closes the
	// connection without an answer instead (a network error).
	failAll    int
	retryAfter string
	// failFn, when set, decides instead of failAll, per request (for failures that follow a
	// mock clock): the status (0 = process normally, resetConn = no answer) and Retry-After.
	failFn    func() (status int, retryAfter string)
	accepted  []pdEvent
	rejected  []string // reasons of 400s
	requests  int
	incidents map[string][]*pdIncident
}

type pdEvent struct {
	RoutingKey string          `json:"routing_key"`
	Action     string          `json:"event_action"`
	DedupKey   string          `json:"dedup_key"`
	Payload    *pdEventPayload `json:"payload"`
	Links      []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
}

type pdEventPayload struct {
	Summary   string         `json:"summary"`
	Source    string         `json:"source"`
	Severity  string         `json:"severity"`
	Timestamp string         `json:"timestamp"`
	Component string         `json:"component"`
	Group     string         `json:"group"`
	Class     string         `json:"class"`
	Details   map[string]any `json:"custom_details"`
}

type pdIncident struct {
	Triggers int
	Resolved bool
}

// resetConn, as a fakePagerDuty status, closes the connection without an answer.
const resetConn = -1

// pdMaxBody is PagerDuty's limit on one event.
const pdMaxBody = 512 * 1024

func newFakePagerDuty(t *testing.T) *fakePagerDuty {
	t.Helper()
	f := &fakePagerDuty{incidents: map[string][]*pdIncident{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		http.NotFound(w, r)
		return
	}
	status, retryAfter := f.failAll, f.retryAfter
	if f.failFn != nil {
		status, retryAfter = f.failFn()
	}
	if len(f.fail) > 0 {
		status, f.fail = f.fail[0], f.fail[1:]
	}
	if status == resetConn {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if status != 0 {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"status":"unavailable","message":"injected failure"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, pdMaxBody+1))
	if err != nil {
		f.reject(w, "reading body")
		return
	}
	if len(body) > pdMaxBody {
		f.reject(w, "event exceeds 512 KB")
		return
	}
	var ev pdEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		f.reject(w, "invalid JSON")
		return
	}
	if reason := validatePDEvent(ev); reason != "" {
		f.reject(w, reason)
		return
	}
	f.accepted = append(f.accepted, ev)
	incs := f.incidents[ev.DedupKey]
	var open *pdIncident
	if len(incs) > 0 && !incs[len(incs)-1].Resolved {
		open = incs[len(incs)-1]
	}
	switch ev.Action {
	case "trigger":
		if open == nil {
			open = &pdIncident{}
			f.incidents[ev.DedupKey] = append(incs, open)
		}
		open.Triggers++
	case "resolve":
		if open != nil {
			open.Resolved = true
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func validatePDEvent(ev pdEvent) string {
	switch {
	case len(ev.RoutingKey) != 32:
		return "routing_key must be 32 characters"
	case ev.Action != "trigger" && ev.Action != "acknowledge" && ev.Action != "resolve":
		return "event_action must be trigger, acknowledge or resolve"
	case len(ev.DedupKey) > 255:
		return "dedup_key longer than 255 characters"
	case ev.Action != "trigger" && ev.DedupKey == "":
		return "dedup_key is required for " + ev.Action
	}
	if ev.Action != "trigger" {
		return ""
	}
	p := ev.Payload
	switch {
	case p == nil:
		return "payload is required"
	case p.Summary == "":
		return "payload.summary is required"
	case len([]rune(p.Summary)) > 1024:
		return "payload.summary longer than 1024 characters"
	case p.Source == "":
		return "payload.source is required"
	case p.Severity == "":
		return "payload.severity is required"
	case !strings.Contains(" critical error warning info ", " "+p.Severity+" "):
		return "payload.severity must be critical, error, warning or info"
	}
	return ""
}

func (f *fakePagerDuty) reject(w http.ResponseWriter, reason string) {
	f.rejected = append(f.rejected, reason)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{reason}})
}

// setFailFn installs failFn (see fakePagerDuty).
func (f *fakePagerDuty) setFailFn(fn func() (int, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFn = fn
}

func (f *fakePagerDuty) setFailAll(status int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAll, f.retryAfter = status, retryAfter
}

// snapshot returns copies of what the server saw.
func (f *fakePagerDuty) snapshot() (accepted []pdEvent, rejected []string, incidents map[string][]pdIncident) {
	f.mu.Lock()
	defer f.mu.Unlock()
	incidents = map[string][]pdIncident{}
	for k, v := range f.incidents {
		for _, i := range v {
			incidents[k] = append(incidents[k], *i)
		}
	}
	return append([]pdEvent(nil), f.accepted...), append([]string(nil), f.rejected...), incidents
}
