package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
)

type memSilenceStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func (s *memSilenceStore) PutSilence(id string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[id] = append([]byte(nil), v...)
	return nil
}

func (s *memSilenceStore) DeleteSilence(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

func (s *memSilenceStore) Silences() (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range s.m {
		out[k] = v
	}
	return out, nil
}

func TestMatcher(t *testing.T) {
	cases := []struct {
		name string
		m    Matcher
		v    string
		want bool
	}{
		{"equal", Matcher{Name: "slo", Value: "a", IsEqual: true}, "a", true},
		{"equal mismatch", Matcher{Name: "slo", Value: "a", IsEqual: true}, "ab", false},
		{"not equal", Matcher{Name: "slo", Value: "a"}, "b", true},
		{"regex anchored", Matcher{Name: "slo", Value: "a.*", IsRegex: true, IsEqual: true}, "xab", false},
		{"regex match", Matcher{Name: "slo", Value: "a.*|b", IsRegex: true, IsEqual: true}, "b", true},
		{"negative regex", Matcher{Name: "slo", Value: "a.*", IsRegex: true}, "b", true},
		{"absent label is empty", Matcher{Name: "team", Value: "", IsEqual: true}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.m.Matches(c.v); got != c.want {
				t.Errorf("Matches(%q) = %v, want %v", c.v, got, c.want)
			}
		})
	}
}

func TestSilenceValidate(t *testing.T) {
	ok := Silence{Matchers: []Matcher{{Name: "slo", Value: "a", IsEqual: true}}, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "ana", Comment: "deploy"}
	cases := []struct {
		name      string
		mod       func(*Silence)
		wantField string
	}{
		{"valid", func(*Silence) {}, ""},
		{"no matchers", func(s *Silence) { s.Matchers = nil }, "matchers"},
		{"bad label name", func(s *Silence) { s.Matchers[0].Name = "1x" }, "matchers[0].name"},
		{"bad regex", func(s *Silence) { s.Matchers[0].IsRegex, s.Matchers[0].Value = true, "(" }, "matchers[0].value"},
		{"matches everything", func(s *Silence) { s.Matchers[0].Value = "" }, "matchers"},
		{"ends before start", func(s *Silence) { s.EndsAt = t0.Add(-time.Minute) }, "endsAt"},
		{"no end", func(s *Silence) { s.EndsAt = time.Time{} }, "endsAt"},
		{"no author", func(s *Silence) { s.CreatedBy = " " }, "createdBy"},
		{"no comment", func(s *Silence) { s.Comment = "" }, "comment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			s.Matchers = append([]Matcher(nil), ok.Matchers...)
			c.mod(&s)
			err := s.Validate()
			if c.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var fe *receiver.FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.wantField+": ") {
				t.Errorf("Validate = %v, want an error on %s", err, c.wantField)
			}
		})
	}
}

func TestSilencesHandler(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(t0)
	st := &memSilenceStore{}
	set, err := NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(SilencesHandler(set))
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	valid := `{"matchers":[{"name":"slo","value":"availability"}],"endsAt":"2026-10-04T08:00:00Z","createdBy":"ana","comment":"known incident"}`
	cases := []struct {
		name     string
		method   string
		path     string
		body     string
		want     int
		contains string
	}{
		{"create", "POST", "/api/v1/silences", valid, 200, `"silenceID"`},
		{"invalid field", "POST", "/api/v1/silences", `{"matchers":[],"endsAt":"2026-10-04T08:00:00Z","createdBy":"ana","comment":"x"}`, 400, `"field":"matchers"`},
		{"ends before it starts", "POST", "/api/v1/silences", `{"matchers":[{"name":"slo","value":"a"}],"startsAt":"2026-10-04T08:00:00Z","endsAt":"2026-10-04T07:00:00Z","createdBy":"ana","comment":"x"}`, 400, `"field":"endsAt"`},
		{"unknown JSON field", "POST", "/api/v1/silences", `{"matcher":[]}`, 400, `unknown field`},
		{"update of unknown id", "POST", "/api/v1/silences", `{"id":"nope","matchers":[{"name":"slo","value":"a"}],"endsAt":"2026-10-04T08:00:00Z","createdBy":"ana","comment":"x"}`, 404, `not found`},
		{"list", "GET", "/api/v1/silences", "", 200, `"status":"active"`},
		{"delete unknown", "DELETE", "/api/v1/silences/nope", "", 404, `not found`},
		{"wrong method", "PUT", "/api/v1/silences", "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(c.method, c.path, c.body)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("%s %s = %d %s, want %d containing %q", c.method, c.path, code, body, c.want, c.contains)
			}
		})
	}
	list := set.List()
	if len(list) != 1 || !list[0].Matchers[0].IsEqual || !list[0].StartsAt.Equal(t0) {
		t.Fatalf("silences = %+v, want one, isEqual defaulted, starting now", list)
	}
	id := list[0].ID
	if len(set.Active(t0)) != 1 || len(set.Active(t0.Add(3*time.Hour))) != 0 {
		t.Errorf("Active wrong around endsAt")
	}
	// A restart reloads what was stored.
	reloaded, err := NewSilenceSet(st, clk)
	if err != nil || len(reloaded.List()) != 1 || reloaded.List()[0].ID != id {
		t.Fatalf("reloaded = %+v, %v", reloaded.List(), err)
	}
	if code, _ := do("DELETE", "/api/v1/silences/"+id, ""); code != 200 {
		t.Errorf("DELETE = %d", code)
	}
	if len(set.List()) != 0 || len(st.m) != 0 {
		t.Errorf("silence not deleted from set and store")
	}
	var got []Silence
	_, body := do("GET", "/api/v1/silences", "")
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 0 {
		t.Errorf("GET after delete = %s (%v)", body, err)
	}
	st.fail = errors.New("disk full")
	if code, body := do("POST", "/api/v1/silences", valid); code != 500 || !strings.Contains(body, "disk full") {
		t.Errorf("store failure = %d %s, want 500", code, body)
	}
}

func TestSilenceExpire(t *testing.T) {
	st := &memSilenceStore{}
	clk := clock.NewMock()
	clk.Set(t0)
	set, _ := NewSilenceSet(st, clk)
	for _, end := range []time.Duration{time.Hour, 30 * time.Hour} {
		if _, err := set.Add(Silence{Matchers: []Matcher{{Name: "slo", Value: "a", IsEqual: true}}, StartsAt: t0, EndsAt: t0.Add(end), CreatedBy: "a", Comment: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := set.Expire(t0.Add(26*time.Hour), 24*time.Hour)
	if err != nil || n != 1 || len(set.List()) != 1 || len(st.m) != 1 {
		t.Errorf("Expire = %d, %v; left %d", n, err, len(set.List()))
	}
}

// TestSilencesBounded checks every bound of the silences API: body size, Content-Type, trailing
// data, field sizes, silences that already ended or end too far ahead, and the number of active
// silences; each refusal is a 4xx that names the problem, and nothing is stored.
func TestSilencesBounded(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(t0)
	st := &memSilenceStore{}
	set, err := NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	set.SetLimits(SilenceLimits{MaxSilences: 2, MaxAhead: 48 * time.Hour})
	srv := httptest.NewServer(SilencesHandler(set))
	defer srv.Close()
	post := func(contentType, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/silences", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	silence := func(ends, comment, createdBy string, matchers string) string {
		return `{"matchers":[` + matchers + `],"endsAt":"` + ends + `","createdBy":"` + createdBy + `","comment":"` + comment + `"}`
	}
	one := `{"name":"slo","value":"a"}`
	inAnHour := t0.Add(time.Hour).Format(time.RFC3339)
	valid := silence(inAnHour, "INC-1", "ana", one)
	many := strings.TrimSuffix(strings.Repeat(one+",", MaxSilenceMatchers+1), ",")
	cases := []struct {
		name, contentType, body string
		want                    int
		contains                string
	}{
		{"text/plain", "text/plain", valid, 415, "Content-Type must be application/json"},
		{"form", "application/x-www-form-urlencoded", valid, 415, "Content-Type must be application/json"},
		{"no content type", "", valid, 415, "Content-Type must be application/json"},
		{"body too large", "application/json", silence(inAnHour, strings.Repeat("x", maxSilenceBody), "ana", one), 413, "larger than"},
		{"trailing data", "application/json", valid + `{"x":1}`, 400, "unexpected data after the silence object"},
		{"trailing garbage", "application/json", valid + `]`, 400, "after the silence object"},
		{"comment too large", "application/json", silence(inAnHour, strings.Repeat("x", MaxSilenceComment+1), "ana", one), 400, `"field":"comment"`},
		{"author too large", "application/json", silence(inAnHour, "c", strings.Repeat("x", MaxSilenceCreatedBy+1), one), 400, `"field":"createdBy"`},
		{"matcher value too large", "application/json", silence(inAnHour, "c", "ana", `{"name":"slo","value":"`+strings.Repeat("x", MaxMatcherValueBytes+1)+`"}`), 400, `"field":"matchers[0].value"`},
		{"too many matchers", "application/json", silence(inAnHour, "c", "ana", many), 400, `"field":"matchers"`},
		{"invalid regex", "application/json", silence(inAnHour, "c", "ana", `{"name":"slo","value":"(","isRegex":true}`), 400, `"field":"matchers[0].value"`},
		{"unknown field", "application/json", `{"matchers":[` + one + `],"endsAt":"` + inAnHour + `","createdBy":"a","comment":"c","ends":"x"}`, 400, `unknown field \"ends\"`},
		{"already ended", "application/json", `{"matchers":[` + one + `],"startsAt":"` + t0.Add(-2*time.Hour).Format(time.RFC3339) + `","endsAt":"` + t0.Add(-time.Hour).Format(time.RFC3339) + `","createdBy":"a","comment":"c"}`, 400, "already ended"},
		{"ends too far ahead", "application/json", silence(t0.Add(49*time.Hour).Format(time.RFC3339), "c", "ana", one), 400, "at most 2d from now"},
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
	if len(st.m) != 2 {
		t.Fatalf("%d silences stored, want the 2 accepted", len(st.m))
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
	if len(st.m) != 2 || st.m[first] != nil {
		t.Errorf("store holds %d silences (first kept: %v), want 2 with the first expired one dropped", len(st.m), st.m[first] != nil)
	}
}
