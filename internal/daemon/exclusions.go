package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/store"
)

// The exclusions API: POST, GET and DELETE /api/v1/exclusions. An exclusion taken over the API is
// an SLO file's exclusion with matchers on the SLOs' labels (service, slo, the SLO's and its
// group's labels), kept in the store. One that covers time already past (a maintenance that was
// not announced, an incident of bad data already over), or a deleted one that did, changes the
// budget of that past: the histories of the SLOs it applies to are emptied in the same store
// transaction that records it, and the next cycle refetches them from the source with the
// exclusions applied (as history only: no alert is evaluated again). The answer and the log say
// which SLOs are recomputed.

const (
	// metaExclusions is the store meta key of the API's exclusions (JSON, a list).
	metaExclusions = "daemon/exclusions"
	// maxExclusions bounds the exclusions kept; maxExclusionJSON one POSTed exclusion.
	maxExclusions    = 1000
	maxExclusionJSON = 64 << 10
)

// exclusionRecord is an exclusion as the API takes, lists and stores it.
type exclusionRecord struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Start     time.Time         `json:"start"`
	Duration  model.Duration    `json:"duration"`
	RRule     string            `json:"rrule,omitempty"`
	TimeZone  string            `json:"time_zone,omitempty"`
	Matchers  []exclude.Matcher `json:"matchers"`
	CreatedBy string            `json:"createdBy,omitempty"`
	Comment   string            `json:"comment,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
}

// window compiles the record; the error is a join of *receiver.FieldError, naming the fields.
func (r exclusionRecord) window() (*exclude.Window, error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &receiver.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if r.Name == "" {
		fail("name", "is required")
	}
	if len(r.Matchers) == 0 {
		fail("matchers", "at least one matcher is required (service, slo or an SLO label): an exclusion of everything is a file-level one")
	}
	if len(r.Comment) > 4096 || len(r.Name) > 256 || len(r.Matchers) > 16 {
		fail("name", "name at most 256 bytes, comment 4 KiB, 16 matchers")
	}
	w := &exclude.Window{Name: r.Name, Start: r.Start, Duration: time.Duration(r.Duration), RRule: r.RRule, Matchers: r.Matchers}
	if r.TimeZone != "" {
		loc, err := time.LoadLocation(r.TimeZone)
		if err != nil || r.TimeZone == "Local" {
			fail("time_zone", "unknown time zone %q", r.TimeZone)
		}
		w.TimeZone = loc
	}
	if err := w.Compile(); err != nil {
		for _, e := range splitErrors(err) {
			field, msg, ok := strings.Cut(e.Error(), ": ") // exclude's "field: message"
			if !ok {
				field, msg = "", e.Error()
			}
			fail(field, "%s", msg)
		}
	}
	return w, errors.Join(errs...)
}

// splitErrors is the errors joined in err (errors.Join), or err alone.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// loadExclusions reads the API's exclusions from the store.
func (d *Daemon) loadExclusions() error {
	recs, set, err := readExclusions(d.store)
	if err != nil {
		return fmt.Errorf("%w; %s", err, restoreHint)
	}
	d.exclusions, d.exclSet = recs, set
	return nil
}

// readExclusions decodes and compiles the exclusions the store keeps (none: an empty list).
func readExclusions(s *store.Store) ([]exclusionRecord, exclude.Set, error) {
	b, err := s.Meta(metaExclusions)
	if err != nil {
		return nil, nil, err
	}
	var recs []exclusionRecord
	if len(b) > 0 {
		if err := json.Unmarshal(b, &recs); err != nil {
			return nil, nil, fmt.Errorf("meta %s does not decode: %w", metaExclusions, err)
		}
	}
	set, err := compileExclusions(recs)
	if err != nil {
		return nil, nil, fmt.Errorf("meta %s: %w", metaExclusions, err)
	}
	return recs, set, nil
}

func compileExclusions(recs []exclusionRecord) (exclude.Set, error) {
	set := make(exclude.Set, 0, len(recs))
	for _, r := range recs {
		w, err := r.window()
		if err != nil {
			return nil, fmt.Errorf("exclusion %s: %w", r.ID, err)
		}
		set = append(set, w)
	}
	return set, nil
}

// exclusionChange is the answer to a POST or DELETE: the exclusion, and the SLOs whose histories
// the next cycle recomputes from the source because it covers (or covered) their past.
type exclusionChange struct {
	ID         string   `json:"exclusionID"`
	Recomputed []string `json:"recomputed"`
}

// postExclusion answers POST /api/v1/exclusions.
func (d *Daemon) postExclusion(w http.ResponseWriter, r *http.Request) {
	var rec exclusionRecord
	if status, err := decodeJSON(w, r, &rec, maxExclusionJSON); err != nil {
		writeFail(w, status, "decoding exclusion: "+err.Error())
		return
	}
	win, err := rec.window()
	if err != nil {
		writeError(w, err)
		return
	}
	rec.ID, rec.CreatedAt = newExclusionID(), d.clock.Now().UTC()
	d.changeExclusions(w, rec.ID, win, func(list []exclusionRecord) ([]exclusionRecord, error) {
		if len(list) >= maxExclusions {
			return nil, fmt.Errorf("too many exclusions (%d): delete some first", len(list))
		}
		return append(list, rec), nil
	})
}

// deleteExclusion answers DELETE /api/v1/exclusions/{id}: the exclusion is removed (the budget it
// gave back is spent again), 404 for an unknown id.
func (d *Daemon) deleteExclusion(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d.mu.RLock()
	set, recs := d.exclSet, d.exclusions
	d.mu.RUnlock()
	i := slices.IndexFunc(recs, func(e exclusionRecord) bool { return e.ID == id })
	if i < 0 {
		writeFail(w, http.StatusNotFound, "no exclusion "+id)
		return
	}
	d.changeExclusions(w, id, set[i], func(list []exclusionRecord) ([]exclusionRecord, error) {
		return slices.DeleteFunc(slices.Clone(list), func(e exclusionRecord) bool { return e.ID == id }), nil
	})
}

// listExclusions answers GET /api/v1/exclusions.
func (d *Daemon) listExclusions(w http.ResponseWriter, _ *http.Request) {
	d.mu.RLock()
	out := append([]exclusionRecord{}, d.exclusions...)
	d.mu.RUnlock()
	writeData(w, out)
}

// changeExclusions applies a change of the exclusions (edit) concerning win, between two cycles:
// it stores the new list and, in the same transaction, empty histories for every instance of the
// SLOs whose past win covers, then makes both what the daemon evaluates with.
func (d *Daemon) changeExclusions(w http.ResponseWriter, id string, win *exclude.Window, edit func([]exclusionRecord) ([]exclusionRecord, error)) {
	d.cycleMu.Lock()
	defer d.cycleMu.Unlock()
	if d.dirty {
		if err := d.restore(); err != nil {
			writeFail(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	list, err := edit(d.exclusions)
	if err != nil {
		writeFail(w, http.StatusBadRequest, err.Error())
		return
	}
	set, err := compileExclusions(list)
	if err != nil {
		writeFail(w, http.StatusInternalServerError, err.Error())
		return
	}
	// The past is what has been evaluated: up to the last cycle's evaluation time.
	now := d.clock.Now()
	if n := d.lastCycle.Load(); n != 0 {
		now = time.Unix(0, n)
	}
	affected := d.retroactive(win, now)
	c, err := d.recomputeCycle(list, affected, now)
	if err == nil {
		_, err = d.store.Commit(c)
	}
	d.health.observe(storeWrite, err)
	if err != nil {
		d.m.storeErrors.Inc()
		writeFail(w, http.StatusInternalServerError, "storing exclusions: "+err.Error())
		return
	}
	d.mu.Lock()
	d.exclusions, d.exclSet = list, set
	d.mu.Unlock()
	ids := []string{}
	for _, s := range d.slos {
		s.eval.SetExclusions(set)
		if affected[s] {
			s.eval.ResetHistories()
			ids = append(ids, s.slo.ID())
		}
	}
	if len(ids) > 0 {
		d.log.Info("exclusion changed the budget of the past: the histories of its SLOs are recomputed from the source at the next cycle",
			"exclusion", id, "name", win.Name, "slos", ids)
	}
	writeData(w, exclusionChange{ID: id, Recomputed: ids})
}

// retroactive returns the SLOs an exclusion applies to (any instance) whose window holds one of
// its occurrences up to now: their histories are recomputed.
func (d *Daemon) retroactive(win *exclude.Window, now time.Time) map[*sloState]bool {
	out := map[*sloState]bool{}
	for _, s := range d.slos {
		if len(win.Between(now.Add(-s.slo.MaxWindow()), now)) == 0 {
			continue
		}
		match := win.Matches(eval.InstanceLabels(s.slo, nil))
		for _, inst := range s.eval.Instances() {
			match = match || win.Matches(eval.InstanceLabels(s.slo, inst.Labels))
		}
		if match {
			out[s] = true
		}
	}
	return out
}

// recomputeCycle is the store transaction of an exclusions change: the list, and the records of
// the affected SLOs' instances with their alert state and an empty history (a restart before the
// next cycle refetches them all the same).
func (d *Daemon) recomputeCycle(list []exclusionRecord, affected map[*sloState]bool, now time.Time) (store.Cycle, error) {
	b, err := json.Marshal(list)
	if err != nil {
		return store.Cycle{}, err
	}
	c := store.Cycle{Meta: map[string][]byte{metaExclusions: b}}
	for s := range affected {
		for _, inst := range s.eval.Instances() {
			cp, err := json.Marshal(inst.Stepper.Checkpoint())
			if err != nil {
				return c, err
			}
			h := inst.Stepper.History()
			empty, err := burnrateEmpty(h.Step(), h.MaxWindow())
			if err != nil {
				return c, err
			}
			c.SLOs = append(c.SLOs, store.SLORecord{ID: inst.ID(), History: empty, State: cp, UpdatedAt: now})
		}
	}
	return c, nil
}

func newExclusionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// burnrateEmpty is an empty history of the given shape, encoded as the store keeps it.
func burnrateEmpty(step, maxWindow time.Duration) ([]byte, error) {
	return burnrate.NewHistory(step, maxWindow).MarshalBinary()
}
