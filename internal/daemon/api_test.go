package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// TestSilencesAPI drives the silences API of a daemon over its real store: create, validation
// errors naming their fields, list with status, delete, a restart keeping what was stored, and a
// failing store answered with 500.
func TestSilencesAPI(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	now := time.Now().UTC()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		return doRequest(t, http.DefaultClient, method, srv.URL+path, map[string]string{"Content-Type": "application/json"}, body)
	}
	valid := `{"matchers":[{"name":"slo","value":"availability"}],"endsAt":"` + now.Add(2*time.Hour).Format(time.RFC3339) + `","createdBy":"ana","comment":"known incident"}`
	cases := []struct {
		name     string
		method   string
		path     string
		body     string
		want     int
		contains string
	}{
		{"create", "POST", "/api/v1/silences", valid, 200, `{"status":"success","data":{"silenceID":"`},
		{"invalid field", "POST", "/api/v1/silences", `{"matchers":[],"endsAt":"2026-10-04T08:00:00Z","createdBy":"ana","comment":"x"}`, 400, `"field":"matchers"`},
		{"ends before it starts", "POST", "/api/v1/silences", `{"matchers":[{"name":"slo","value":"a"}],"startsAt":"2026-10-04T08:00:00Z","endsAt":"2026-10-04T07:00:00Z","createdBy":"ana","comment":"x"}`, 400, `"field":"endsAt"`},
		{"unknown JSON field", "POST", "/api/v1/silences", `{"matcher":[]}`, 400, `unknown field`},
		{"update of unknown id", "POST", "/api/v1/silences", `{"id":"nope","matchers":[{"name":"slo","value":"a"}],"endsAt":"` + now.Add(time.Hour).Format(time.RFC3339) + `","createdBy":"ana","comment":"x"}`, 404, `not found`},
		{"list", "GET", "/api/v1/silences", "", 200, `"status":"active"}]}`},
		{"delete unknown", "DELETE", "/api/v1/silences/nope", "", 404, `{"status":"error","error":"silence \"nope\": silence not found"}`},
		{"wrong method", "PUT", "/api/v1/silences", "", 405, `{"status":"error","error":"PUT /api/v1/silences: method not allowed"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(c.method, c.path, c.body)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("%s %s = %d %s, want %d containing %q", c.method, c.path, code, body, c.want, c.contains)
			}
		})
	}
	set := h.d.silences
	list := set.List()
	if len(list) != 1 || !list[0].Matchers[0].IsEqual || list[0].StartsAt.Before(now.Add(-time.Minute)) {
		t.Fatalf("silences = %+v, want one, isEqual defaulted, starting now", list)
	}
	id := list[0].ID
	// A restart reloads what was stored.
	h.restart()
	srv.Config.Handler = h.d.Handler()
	if l := h.d.silences.List(); len(l) != 1 || l[0].ID != id {
		t.Fatalf("after restart: %+v", l)
	}
	// DELETE expires the silence, and it stays listed with its end, for the record.
	var deleted struct {
		Status string
		Data   silenceView
	}
	code, body := do("DELETE", "/api/v1/silences/"+id, "")
	if err := json.Unmarshal([]byte(body), &deleted); err != nil || code != 200 || deleted.Status != "success" ||
		deleted.Data.ID != id || deleted.Data.Status != "expired" || deleted.Data.EndsAt.After(time.Now()) {
		t.Errorf("DELETE = %d %s (%v), want the silence, expired", code, body, err)
	}
	var got struct {
		Status string
		Data   []silenceView
	}
	_, body = do("GET", "/api/v1/silences", "")
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Status != "success" || len(got.Data) != 1 ||
		got.Data[0].Status != "expired" || !got.Data[0].EndsAt.Equal(deleted.Data.EndsAt) || got.Data[0].CreatedBy != "ana" {
		t.Errorf("GET after delete = %s (%v), want the silence listed, expired", body, err)
	}
	if h.d.silences.Active(time.Now()) != nil {
		t.Errorf("the expired silence is still active")
	}
	h.close() // the store is closed: writes fail
	if code, body := do("POST", "/api/v1/silences", valid); code != 500 || !strings.Contains(body, `{"status":"error","error":"storing silence`) || !strings.Contains(body, "database not open") {
		t.Errorf("store failure = %d %s, want 500", code, body)
	}
}

// TestBackupEndpoint: with the admin API enabled, GET streams a snapshot of the daemon's store that
// verifies, with its exact Content-Length; other methods are refused; a snapshot failing midway
// aborts the connection (the client sees an error, not a short file); a closed store is a 500.
func TestBackupEndpoint(t *testing.T) {
	h := newHarness(t)
	h.tweak = func(o *Options) { o.Web.EnableAdminAPI = true }
	h.restart()
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/v1/admin/backup")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s, %v", resp.Status, err)
	}
	for hdr, want := range map[string]string{
		"Content-Type":        "application/octet-stream",
		"Content-Disposition": `attachment; filename="slod-backup.db"`,
		"Content-Length":      strconv.Itoa(len(body)),
	} {
		if got := resp.Header.Get(hdr); got != want {
			t.Errorf("%s = %q, want %q", hdr, got, want)
		}
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := store.Verify(path); err != nil || st.SLOs != 1 {
		t.Errorf("the backup verifies as %+v, %v; want 1 SLO", st, err)
	}

	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/admin/backup", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %s, want 405", method, resp.Status)
		}
	}

	t.Run("failure midway aborts the response", func(t *testing.T) {
		w := &brokenResponse{header: http.Header{}, budget: 8192}
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", r)
			}
			if w.status != http.StatusOK || w.header.Get("Content-Length") == "" {
				t.Errorf("status %d, Content-Length %q: headers were not sent first", w.status, w.header.Get("Content-Length"))
			}
		}()
		backup(h.d.store).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/admin/backup", nil))
		t.Error("the handler returned normally after the write failed")
	})

	h.close()
	resp, err = http.Get(srv.URL + "/api/v1/admin/backup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("closed store: status %s, want 500", resp.Status)
	}
}

// brokenResponse is a ResponseWriter whose connection breaks after budget bytes.
type brokenResponse struct {
	header http.Header
	status int
	budget int
}

func (w *brokenResponse) Header() http.Header  { return w.header }
func (w *brokenResponse) WriteHeader(code int) { w.status = code }
func (w *brokenResponse) Write(b []byte) (int, error) {
	if len(b) > w.budget {
		n := w.budget
		w.budget = 0
		return n, io.ErrClosedPipe
	}
	w.budget -= len(b)
	return len(b), nil
}

// TestSilencesBounded checks every bound of the silences API: body size, Content-Type, trailing
// data, field sizes, silences that already ended or end too far ahead, and the number of active
// silences; each refusal is a 4xx that names the problem, and nothing is stored.
func TestSilencesBounded(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(t0)
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	set, err := notify.NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	set.SetLimits(notify.SilenceLimits{MaxSilences: 2, MaxAhead: 48 * time.Hour})
	d := &Daemon{silences: set, clock: clk, store: st, registry: prometheus.NewRegistry()}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	stored := func() map[string][]byte {
		t.Helper()
		m, err := st.Silences()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	post := func(contentType, body string) (int, string) {
		t.Helper()
		var hdr map[string]string
		if contentType != "" {
			hdr = map[string]string{"Content-Type": contentType}
		}
		return doRequest(t, http.DefaultClient, "POST", srv.URL+"/api/v1/silences", hdr, body)
	}
	silence := func(ends, comment, createdBy string, matchers string) string {
		return `{"matchers":[` + matchers + `],"endsAt":"` + ends + `","createdBy":"` + createdBy + `","comment":"` + comment + `"}`
	}
	one := `{"name":"slo","value":"a"}`
	inAnHour := t0.Add(time.Hour).Format(time.RFC3339)
	valid := silence(inAnHour, "INC-1", "ana", one)
	many := strings.TrimSuffix(strings.Repeat(one+",", notify.MaxSilenceMatchers+1), ",")
	cases := []struct {
		name, contentType, body string
		want                    int
		contains                string
	}{
		{"text/plain", "text/plain", valid, 415, "Content-Type must be application/json"},
		{"form", "application/x-www-form-urlencoded", valid, 415, "Content-Type must be application/json"},
		{"no content type", "", valid, 415, "Content-Type must be application/json"},
		{"body too large", "application/json", silence(inAnHour, strings.Repeat("x", notify.MaxSilenceJSON), "ana", one), 413, "larger than"},
		{"trailing data", "application/json", valid + `{"x":1}`, 400, "decoding silence: unexpected data after the object"},
		{"trailing garbage", "application/json", valid + `]`, 400, "decoding silence: unexpected data after the object"},
		{"comment too large", "application/json", silence(inAnHour, strings.Repeat("x", notify.MaxSilenceComment+1), "ana", one), 400, `"field":"comment"`},
		{"author too large", "application/json", silence(inAnHour, "c", strings.Repeat("x", notify.MaxSilenceCreatedBy+1), one), 400, `"field":"createdBy"`},
		{"matcher value too large", "application/json", silence(inAnHour, "c", "ana", `{"name":"slo","value":"`+strings.Repeat("x", notify.MaxMatcherValueBytes+1)+`"}`), 400, `"field":"matchers[0].value"`},
		{"too many matchers", "application/json", silence(inAnHour, "c", "ana", many), 400, `"field":"matchers"`},
		{"invalid regex", "application/json", silence(inAnHour, "c", "ana", `{"name":"slo","value":"(","isRegex":true}`), 400, `"field":"matchers[0].value"`},
		{"unknown field", "application/json", `{"matchers":[` + one + `],"endsAt":"` + inAnHour + `","createdBy":"a","comment":"c","ends":"x"}`, 400, `unknown field \"ends\"`},
		{"already ended", "application/json", `{"matchers":[` + one + `],"startsAt":"` + t0.Add(-2*time.Hour).Format(time.RFC3339) + `","endsAt":"` + t0.Add(-time.Hour).Format(time.RFC3339) + `","createdBy":"a","comment":"c"}`, 400, "already ended"},
		{"ends too far ahead", "application/json", silence(t0.Add(49*time.Hour).Format(time.RFC3339), "c", "ana", one), 400, "at most 2d from now"},
		{"unknown matcher field", "application/json", `{"matchers":[{"name":"slo","value":"a.*","isRegx":true}],"endsAt":"` + inAnHour + `","createdBy":"a","comment":"c"}`, 400, `unknown field \"isRegx\"`},
		{"charset parameter is fine", "application/json; charset=utf-8", valid, 200, "silenceID"},
		{"second", "application/json", silence(t0.Add(90*time.Minute).Format(time.RFC3339), "INC-2", "ana", one), 200, "silenceID"},
		{"third is one too many", "application/json", valid, 400, "too many active or pending silences"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(c.contentType, c.body)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("POST = %d %s, want %d containing %q", code, body, c.want, c.contains)
			}
		})
	}
	if n := len(stored()); n != 2 {
		t.Fatalf("%d silences stored, want the 2 accepted", n)
	}
	// Once both have ended, a new silence replaces the one that ended first: expired silences
	// are kept for the record only while there is room.
	clk.Add(2 * time.Hour)
	var first string
	for _, sil := range set.List() {
		if sil.EndsAt.Equal(t0.Add(time.Hour)) {
			first = sil.ID
		}
	}
	if code, body := post("application/json", silence(t0.Add(3*time.Hour).Format(time.RFC3339), "c", "ana", one)); code != 200 {
		t.Fatalf("POST after the others ended = %d %s", code, body)
	}
	if m := stored(); len(m) != 2 || m[first] != nil {
		t.Errorf("store holds %d silences (first kept: %v), want 2 with the first expired one dropped", len(m), m[first] != nil)
	}
}

// TestSLOsAPI: /api/v1 answers in one shape, {"status", "data"} or {"status": "error", "error"},
// the mux's 404 and 405 included; one SLO has a URL of its own; the list filters by service, name
// and labels, and refuses a filter it does not know rather than answer every SLO; the SLO's
// window is called window.
func TestSLOsAPI(t *testing.T) {
	h := newHarness(t)
	writeFile(t, filepath.Join(h.dir, "rules", "cart.yaml"), strings.NewReplacer("service: shop", "service: cart", "team: web", "team: pay").Replace(testRules))
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	h.cycle(t0)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	ids := func(body string) string {
		t.Helper()
		var r struct {
			Status string
			Data   []sloView
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
			t.Fatalf("%s: %v", body, err)
		}
		var out []string
		for _, v := range r.Data {
			out = append(out, v.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ query, want string }{
		{"", "cart/availability,shop/availability"},
		{"?service=shop", "shop/availability"},
		{"?service=shop&service=cart", "cart/availability,shop/availability"},
		{"?name=availability&service=cart", "cart/availability"},
		{"?label=team=pay", "cart/availability"},
		{"?label=team=pay&label=team=web", ""},
		{"?service=nope", ""},
	} {
		if code, body := get(t, srv, "/api/v1/slos"+c.query); code != 200 || ids(body) != c.want {
			t.Errorf("GET /api/v1/slos%s = %d %s, want %q", c.query, code, body, c.want)
		}
	}
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/v1/slos?sevice=shop", 400, `{"status":"error","error":"unknown parameter \"sevice\": the SLOs are filtered by service, name and label=KEY=VALUE"}`},
		{"GET", "/api/v1/slos?label=team", 400, `{"status":"error","error":"label=\"team\": want label=KEY=VALUE"}`},
		{"GET", "/api/v1/slos/shop/nope", 404, `{"status":"error","error":"no SLO shop/nope"}`},
		{"GET", "/api/v1/nope", 404, `{"status":"error","error":"GET /api/v1/nope: not found"}`},
		{"POST", "/api/v1/slos", 405, `{"status":"error","error":"POST /api/v1/slos: method not allowed"}`},
		{"GET", "/api/v1/admin/backup", 403, `{"status":"error","error":"Admin APIs are not enabled: start slod with --web.enable-admin-api."}`},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || strings.TrimSpace(string(b)) != c.body || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s = %d %s (%s)\nwant %d %s", c.method, c.path, resp.StatusCode, b, resp.Header.Get("Content-Type"), c.code, c.body)
		}
		if c.code == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	code, body := get(t, srv, "/api/v1/slos/shop/availability")
	var one struct {
		Status string
		Data   map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &one); err != nil || code != 200 || one.Status != "success" {
		t.Fatalf("GET one SLO = %d %s (%v)", code, body, err)
	}
	if string(one.Data["id"]) != `"shop/availability"` || string(one.Data["window"]) != `"1d"` || one.Data["period"] != nil {
		t.Errorf("one SLO: id %s, window %s, period %s; want shop/availability, 1d and no period", one.Data["id"], one.Data["window"], one.Data["period"])
	}
}
