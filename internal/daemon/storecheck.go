package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// restoreHint is appended to an error about a damaged store: what the operator does next.
const restoreHint = "the store is damaged: restore the last good backup with `slod restore -i BACKUP --storage.path DIR --force` " +
	"with slod stopped (docs/runbook.md, Backup and restore), or move the file away to start empty (open incidents are paged again)"

// CheckStore reads every record of s the way slod run uses it, so that `slod restore` and
// `slod run` agree on what a valid store is (the store itself sees history, alert state,
// payloads, silences and exclusions as opaque bytes). It returns an error naming the first
// record run would refuse to start with (an alert state, the notification records, a silence or
// the exclusions that do not decode), and a warning for each record run repairs: a history that does not decode is
// refetched from Prometheus, an outbox entry whose payload does not decode is dropped.
func CheckStore(s *store.Store) (warnings []string, err error) {
	recs, err := s.SLOs()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rec := recs[id]
		if len(rec.History) > 0 {
			if herr := new(burnrate.History).UnmarshalBinary(rec.History); herr != nil {
				warnings = append(warnings, fmt.Sprintf("the history of SLO %s does not decode (%v): slod refetches it from Prometheus", id, herr))
			}
		}
		if len(rec.State) > 0 {
			var st burnrate.State
			if serr := json.Unmarshal(rec.State, &st); serr != nil {
				return warnings, fmt.Errorf("the alert state of SLO %s does not decode: %w", id, serr)
			}
		}
	}
	b, err := s.Meta(notify.MetaAlertRecords)
	if err != nil {
		return warnings, err
	}
	if _, err := notify.DecodeAlertRecords(b); err != nil {
		return warnings, fmt.Errorf("meta %s: %w", notify.MetaAlertRecords, err)
	}
	sils, err := s.Silences()
	if err != nil {
		return warnings, err
	}
	for id, raw := range sils {
		var sil notify.Silence
		if err := json.Unmarshal(raw, &sil); err != nil {
			return warnings, fmt.Errorf("silence %s does not decode: %w", id, err)
		}
	}
	if _, _, err := readExclusions(s); err != nil {
		return warnings, err
	}
	outbox, err := s.Outbox()
	if err != nil {
		return warnings, err
	}
	for _, e := range outbox {
		if _, perr := notify.UnmarshalPayload(e.Payload); perr != nil {
			warnings = append(warnings, fmt.Sprintf("outbox entry %d (%s) does not decode (%v): slod drops it", e.Seq, e.Key, perr))
		}
	}
	return warnings, nil
}

// openStore opens the store for slod run and checks its records (CheckStore); a damaged store is
// an error that names the file and says how to restore it.
func openStore(dir string, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(dir)
	if errors.Is(err, store.ErrCorrupt) {
		return nil, fmt.Errorf("opening the store: %w; %s", err, restoreHint)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	warnings, err := CheckStore(st)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("store %s: %w; %s", st.Path(), err, restoreHint)
	}
	for _, w := range warnings {
		log.Warn("repairing a damaged record of the store", "store", st.Path(), "problem", w)
	}
	return st, nil
}
