package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/receiver"
)

// Matcher matches one alert label, with Alertmanager's silence matcher semantics: IsEqual false
// negates; IsRegex makes Value a regular expression anchored at both ends; a missing label
// matches like an empty value.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
	// re is Value compiled, set by the SilenceSet for the silences it holds: Reconcile matches
	// them at every cycle, and the status pages at every request.
	re *regexp.Regexp
}

// UnmarshalJSON defaults isEqual to true, as Alertmanager's API does when it is left out.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	type plain Matcher
	p := plain{IsEqual: true}
	// Strict as the silence around it: a misspelt "isRegx" would make a literal matcher that
	// silences nothing.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*m = Matcher(p)
	return nil
}

// Matches reports whether the label value v (empty when absent) satisfies m.
func (m Matcher) Matches(v string) bool {
	var ok bool
	switch {
	case m.re != nil:
		ok = m.re.MatchString(v)
	case m.IsRegex:
		re, err := m.compileRegex()
		ok = err == nil && re.MatchString(v)
	default:
		ok = v == m.Value
	}
	return ok == m.IsEqual
}

// compileRegex compiles Value as a regular expression anchored at both ends.
func (m Matcher) compileRegex() (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + m.Value + ")$")
}

// compiledMatchers returns a copy of ms with every valid regular expression compiled.
func compiledMatchers(ms []Matcher) []Matcher {
	out := slices.Clone(ms)
	for i := range out {
		if out[i].IsRegex {
			out[i].re, _ = out[i].compileRegex()
		}
	}
	return out
}

// Silence keeps the alerts its matchers match from being sent between StartsAt and EndsAt. A
// silenced alert is still evaluated and recorded; when the silence ends and the alert still
// fires, its trigger goes out (Reconcile).
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// Sizes a silence may have. A silence is kept in memory and in the store, listed whole by GET
// /api/v1/silences and read at every start, so without bounds a few hundred silences with 1 MiB
// comments take a gigabyte at every restart. The bounds leave room for any real use: a ticket
// reference and a sentence or two of comment, a handful of label matchers.
const (
	MaxSilenceComment    = 4096 // bytes
	MaxSilenceCreatedBy  = 256  // bytes
	MaxSilenceMatchers   = 16
	MaxMatcherNameBytes  = 256
	MaxMatcherValueBytes = 1024
	// MaxSilenceJSON bounds a silence as JSON (a POSTed one): one within every bound above fits
	// easily.
	MaxSilenceJSON = 64 << 10 // bytes
)

// SilenceLimits bound the silences a SilenceSet accepts (the --silences.* flags of slod run).
type SilenceLimits struct {
	// MaxSilences is how many silences may be active or pending at once. Expired silences kept
	// for the record do not count: the oldest of them are dropped to make room.
	MaxSilences int
	// MaxAhead is how far from now a silence's endsAt may be.
	MaxAhead time.Duration
}

// DefaultSilenceLimits are the limits of a SilenceSet unless SetLimits changes them.
var DefaultSilenceLimits = SilenceLimits{MaxSilences: 1000, MaxAhead: 30 * 24 * time.Hour}

// ErrTooManySilences is returned by Add when MaxSilences silences are active or pending.
var ErrTooManySilences = errors.New("too many active or pending silences")

// Validate returns every problem with s, each naming its field (errors.Join of
// *receiver.FieldError).
func (s Silence) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &receiver.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case len(s.Matchers) == 0:
		add("matchers", "at least one matcher is required")
	case len(s.Matchers) > MaxSilenceMatchers:
		add("matchers", "at most %d matchers (got %d)", MaxSilenceMatchers, len(s.Matchers))
		return errors.Join(errs...)
	}
	if len(s.Comment) > MaxSilenceComment {
		add("comment", "too large: at most %d bytes (got %d)", MaxSilenceComment, len(s.Comment))
	}
	if len(s.CreatedBy) > MaxSilenceCreatedBy {
		add("createdBy", "too large: at most %d bytes (got %d)", MaxSilenceCreatedBy, len(s.CreatedBy))
	}
	matchesEmpty := true
	for i, m := range s.Matchers {
		f := fmt.Sprintf("matchers[%d]", i)
		if len(m.Name) > MaxMatcherNameBytes {
			add(f+".name", "too large: at most %d bytes (got %d)", MaxMatcherNameBytes, len(m.Name))
		} else if !model.LegacyValidation.IsValidLabelName(m.Name) {
			add(f+".name", "invalid label name %q", m.Name)
		}
		if len(m.Value) > MaxMatcherValueBytes {
			add(f+".value", "too large: at most %d bytes (got %d)", MaxMatcherValueBytes, len(m.Value))
			continue
		}
		if m.IsRegex {
			if _, err := m.compileRegex(); err != nil {
				add(f+".value", "invalid regular expression: %v", err)
				continue
			}
		}
		if !m.Matches("") {
			matchesEmpty = false
		}
	}
	if len(s.Matchers) > 0 && matchesEmpty {
		// Like Alertmanager: a silence whose matchers all match the empty string would silence
		// every alert.
		add("matchers", "at least one matcher must not match the empty string")
	}
	if s.StartsAt.IsZero() {
		add("startsAt", "required")
	}
	if s.EndsAt.IsZero() {
		add("endsAt", "required")
	} else if !s.EndsAt.After(s.StartsAt) {
		add("endsAt", "must be after startsAt")
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		add("createdBy", "required")
	}
	if strings.TrimSpace(s.Comment) == "" {
		add("comment", "required")
	}
	return errors.Join(errs...)
}

// Active reports whether s is in force at now: StartsAt ≤ now < EndsAt.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Status is what the silences API shows for s at now: "pending" before StartsAt, "expired" from
// EndsAt on, "active" in between.
func (s Silence) Status(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return "pending"
	case !now.Before(s.EndsAt):
		return "expired"
	}
	return "active"
}

// Matches reports whether every matcher of s matches labels.
func (s Silence) Matches(labels map[string]string) bool {
	for _, m := range s.Matchers {
		if !m.Matches(labels[m.Name]) {
			return false
		}
	}
	return len(s.Matchers) > 0
}

// Silencing returns the ID of the first of silences active at now that matches labels.
func Silencing(silences []Silence, labels map[string]string, now time.Time) (string, bool) {
	for _, s := range silences {
		if s.Active(now) && s.Matches(labels) {
			return s.ID, true
		}
	}
	return "", false
}

// SilenceStore persists silences as JSON by ID; *store.Store implements it.
type SilenceStore interface {
	PutSilence(id string, v []byte) error
	DeleteSilence(id string) error
	Silences() (map[string][]byte, error)
}

// ErrSilenceNotFound is returned for an unknown silence ID.
var ErrSilenceNotFound = errors.New("silence not found")

// SilenceSet is the set of silences, kept in memory and written through to a SilenceStore so
// that they survive restarts.
type SilenceSet struct {
	store SilenceStore
	clock clock.Clock

	mu       sync.Mutex
	silences map[string]Silence
	limits   SilenceLimits
}

// NewSilenceSet loads the silences of st. clk (default real) stamps silences created without a
// start time.
func NewSilenceSet(st SilenceStore, clk clock.Clock) (*SilenceSet, error) {
	if clk == nil {
		clk = clock.New()
	}
	raw, err := st.Silences()
	if err != nil {
		return nil, fmt.Errorf("loading silences: %w", err)
	}
	s := &SilenceSet{store: st, clock: clk, silences: make(map[string]Silence, len(raw)), limits: DefaultSilenceLimits}
	for id, b := range raw {
		var sil Silence
		if err := json.Unmarshal(b, &sil); err != nil {
			return nil, fmt.Errorf("loading silence %s: %w", id, err)
		}
		sil.ID, sil.Matchers = id, compiledMatchers(sil.Matchers)
		s.silences[id] = sil
	}
	return s, nil
}

// SetLimits replaces the limits (DefaultSilenceLimits until called); zero fields keep the
// default. Silences already stored are kept whatever the new limits.
func (s *SilenceSet) SetLimits(l SilenceLimits) {
	if l.MaxSilences <= 0 {
		l.MaxSilences = DefaultSilenceLimits.MaxSilences
	}
	if l.MaxAhead <= 0 {
		l.MaxAhead = DefaultSilenceLimits.MaxAhead
	}
	s.mu.Lock()
	s.limits = l
	s.mu.Unlock()
}

// Add validates and stores sil, assigning an ID when it has none (an existing ID replaces that
// silence). StartsAt defaults to now. Like Alertmanager, it refuses a silence that has already
// ended; it also refuses one that ends further ahead than the limits allow, and a new one when
// MaxSilences are active or pending (ErrTooManySilences).
func (s *SilenceSet) Add(sil Silence) (Silence, error) {
	now := s.clock.Now()
	if sil.StartsAt.IsZero() {
		sil.StartsAt = now.UTC()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := errors.Join(sil.Validate(), s.checkTimes(sil, now)); err != nil {
		return Silence{}, err
	}
	if sil.ID == "" {
		if err := s.makeRoom(now); err != nil {
			return Silence{}, err
		}
		sil.ID = newID()
	} else if _, ok := s.silences[sil.ID]; !ok {
		return Silence{}, fmt.Errorf("silence %q: %w", sil.ID, ErrSilenceNotFound)
	}
	b, err := json.Marshal(sil)
	if err != nil {
		return Silence{}, fmt.Errorf("encoding silence: %w", err)
	}
	if err := s.store.PutSilence(sil.ID, b); err != nil {
		return Silence{}, fmt.Errorf("storing silence %s: %w", sil.ID, err)
	}
	sil.Matchers = compiledMatchers(sil.Matchers)
	s.silences[sil.ID] = sil
	return sil, nil
}

// checkTimes applies the time limits that depend on now (Validate checks the rest).
func (s *SilenceSet) checkTimes(sil Silence, now time.Time) error {
	switch {
	case sil.EndsAt.IsZero():
		return nil // Validate reports it
	case !sil.EndsAt.After(now):
		return &receiver.FieldError{Field: "endsAt", Message: "the silence has already ended"}
	case sil.EndsAt.Sub(now) > s.limits.MaxAhead:
		return &receiver.FieldError{Field: "endsAt", Message: fmt.Sprintf("at most %s from now (--silences.max-ahead)", model.Duration(s.limits.MaxAhead))}
	}
	return nil
}

// makeRoom makes sure one more silence fits: it fails when MaxSilences are active or pending, and
// otherwise drops the expired silences that ended first until the set holds fewer than
// MaxSilences, so that neither memory nor the store grows without bound. s.mu is held.
func (s *SilenceSet) makeRoom(now time.Time) error {
	var expired []Silence
	for _, sil := range s.silences {
		if !now.Before(sil.EndsAt) {
			expired = append(expired, sil)
		}
	}
	if live := len(s.silences) - len(expired); live >= s.limits.MaxSilences {
		return fmt.Errorf("%w: %d of at most %d (--silences.max-silences); end one first", ErrTooManySilences, live, s.limits.MaxSilences)
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].EndsAt.Before(expired[j].EndsAt) })
	for _, sil := range expired {
		if len(s.silences) < s.limits.MaxSilences {
			break
		}
		if err := s.deleteLocked(sil.ID); err != nil {
			return err
		}
	}
	return nil
}

// End expires the silence id at now, as Alertmanager does, rather than deleting it: it stays
// listed (with its new end) for the record, until the retention of Expire drops it. An active
// silence ends now; a pending one starts and ends now, so that it never silenced anything; an
// expired one is left as it is. Its alerts are sent again from the next evaluation on. It returns
// the silence as stored.
func (s *SilenceSet) End(id string) (Silence, error) {
	now := s.clock.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	sil, ok := s.silences[id]
	if !ok {
		return Silence{}, fmt.Errorf("silence %q: %w", id, ErrSilenceNotFound)
	}
	if !now.Before(sil.EndsAt) {
		return sil, nil
	}
	if now.Before(sil.StartsAt) {
		sil.StartsAt = now
	}
	sil.EndsAt = now
	b, err := json.Marshal(sil)
	if err != nil {
		return Silence{}, fmt.Errorf("encoding silence: %w", err)
	}
	if err := s.store.PutSilence(id, b); err != nil {
		return Silence{}, fmt.Errorf("storing silence %s: %w", id, err)
	}
	s.silences[id] = sil
	return sil, nil
}

// Delete removes a silence from the set and the store (Expire, and makeRoom, drop the silences
// that ended long ago; the API ends silences with End instead, keeping them listed).
func (s *SilenceSet) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(id)
}

func (s *SilenceSet) deleteLocked(id string) error {
	if _, ok := s.silences[id]; !ok {
		return fmt.Errorf("silence %q: %w", id, ErrSilenceNotFound)
	}
	if err := s.store.DeleteSilence(id); err != nil {
		return fmt.Errorf("deleting silence %s: %w", id, err)
	}
	delete(s.silences, id)
	return nil
}

// List returns every silence, by StartsAt then ID.
func (s *SilenceSet) List() []Silence {
	s.mu.Lock()
	out := make([]Silence, 0, len(s.silences))
	for _, sil := range s.silences {
		out = append(out, sil)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.Before(out[j].StartsAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Active returns the silences in force at now, what Reconcile takes.
func (s *SilenceSet) Active(now time.Time) []Silence {
	var out []Silence
	for _, sil := range s.List() {
		if sil.Active(now) {
			out = append(out, sil)
		}
	}
	return out
}

// Expire deletes the silences that ended before now − retention, so the store does not grow
// without bound; it returns how many it deleted.
func (s *SilenceSet) Expire(now time.Time, retention time.Duration) (int, error) {
	n := 0
	for _, sil := range s.List() {
		if sil.EndsAt.Before(now.Add(-retention)) {
			if err := s.Delete(sil.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
