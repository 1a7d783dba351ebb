package notify

import (
	"errors"
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
			// As a SilenceSet holds it: its regular expression compiled once.
			m := compiledMatchers([]Matcher{c.m})[0]
			if (m.re != nil) != c.m.IsRegex {
				t.Fatalf("compiled regex %v for IsRegex %v", m.re, c.m.IsRegex)
			}
			if got := m.Matches(c.v); got != c.want {
				t.Errorf("compiled: Matches(%q) = %v, want %v", c.v, got, c.want)
			}
		})
	}
}

// TestSilenceSetCompilesMatchers: the silences a SilenceSet hands out (to Reconcile at every
// cycle, to the status pages) carry their regular expressions compiled, whether added or loaded
// from the store, and the caller's matchers are left as they were.
func TestSilenceSetCompilesMatchers(t *testing.T) {
	st := &memSilenceStore{}
	clk := clock.NewMock()
	clk.Set(t0)
	set, err := NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	ms := []Matcher{{Name: "slo", Value: "a|b", IsRegex: true, IsEqual: true}, {Name: "team", Value: "x", IsEqual: true}}
	if _, err := set.Add(Silence{Matchers: ms, EndsAt: t0.Add(time.Hour), CreatedBy: "ana", Comment: "INC-1"}); err != nil {
		t.Fatal(err)
	}
	if ms[0].re != nil {
		t.Error("Add compiled the caller's matcher in place")
	}
	reloaded, err := NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*SilenceSet{"added": set, "loaded": reloaded} {
		active := s.Active(t0)
		if len(active) != 1 || active[0].Matchers[0].re == nil || active[0].Matchers[1].re != nil {
			t.Fatalf("%s: active silences %+v, want one with its regex matcher compiled", name, active)
		}
		if !active[0].Matches(map[string]string{"slo": "b", "team": "x"}) || active[0].Matches(map[string]string{"slo": "ab", "team": "x"}) {
			t.Errorf("%s: the compiled silence matches wrongly", name)
		}
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

func TestSilenceStatus(t *testing.T) {
	sil := Silence{StartsAt: t0, EndsAt: t0.Add(time.Hour)}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Second), "pending"}, {t0, "active"}, {t0.Add(time.Hour - time.Second), "active"}, {t0.Add(time.Hour), "expired"},
	} {
		if got := sil.Status(c.at); got != c.want {
			t.Errorf("Status(%s) = %q, want %q", c.at, got, c.want)
		}
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

// TestSilenceEnd: ending a silence expires it and keeps it listed with its end, in memory and in
// the store (the record of who silenced what, and until when), as Alertmanager does; a pending
// silence ends before it ever started; ending an expired one changes nothing.
func TestSilenceEnd(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(t0)
	st := &memSilenceStore{}
	set, err := NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	m := []Matcher{{Name: "slo", Value: "a", IsEqual: true}}
	active, err := set.Add(Silence{Matchers: m, EndsAt: t0.Add(time.Hour), CreatedBy: "ana", Comment: "INC-1"})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := set.Add(Silence{Matchers: m, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour), CreatedBy: "ana", Comment: "INC-2"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Minute)
	now := t0.Add(10 * time.Minute)
	for _, c := range []struct {
		id         string
		start, end time.Time
	}{{active.ID, t0, now}, {pending.ID, now, now}} {
		got, err := set.End(c.id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.StartsAt.Equal(c.start) || !got.EndsAt.Equal(c.end) || got.Status(now) != "expired" {
			t.Errorf("ended silence %+v (%s), want %v–%v, expired", got, got.Status(now), c.start, c.end)
		}
	}
	if len(set.List()) != 2 || len(set.Active(now)) != 0 {
		t.Errorf("after ending both: listed %+v, active %+v", set.List(), set.Active(now))
	}
	reloaded, err := NewSilenceSet(st, clk)
	if err != nil {
		t.Fatal(err)
	}
	if l := reloaded.List(); len(l) != 2 || !l[0].EndsAt.Equal(now) || !l[1].EndsAt.Equal(now) {
		t.Errorf("the store holds %+v, want both ended at %v", l, now)
	}
	clk.Add(time.Hour)
	if again, err := set.End(active.ID); err != nil || !again.EndsAt.Equal(now) {
		t.Errorf("ending an expired silence: %+v, %v; want it unchanged", again, err)
	}
	if _, err := set.End("nope"); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("ending an unknown silence: %v", err)
	}
}
