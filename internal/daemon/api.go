package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/store"
)

// The handlers Handler mounts besides the status page and the probes: the silences API and the
// store backup.

// postSilence creates a silence (id empty) or replaces one: body a notify.Silence, answer
// {"silenceID": "..."}. Invalid silences get 400 {"error": "...", "fields": [{"field": "endsAt",
// "message": "..."}]}, an unknown id 404, a body that is not JSON 415, one too large 413.
func postSilence(set *notify.SilenceSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sil, status, err := decodeSilence(w, r)
		if err != nil {
			writeJSON(w, status, apiError{Error: err.Error()})
			return
		}
		out, err := set.Add(sil)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"silenceID": out.ID})
	}
}

// decodeSilence reads a POSTed silence: JSON (by Content-Type, so that a browser's form or
// text/plain POST, which needs no CORS preflight, is refused), within notify.MaxSilenceJSON, with
// no unknown field and nothing after the object. It returns the HTTP status of a failure.
func decodeSilence(w http.ResponseWriter, r *http.Request) (notify.Silence, int, error) {
	var sil notify.Silence
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return sil, http.StatusUnsupportedMediaType, errors.New("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, notify.MaxSilenceJSON))
	dec.DisallowUnknownFields()
	err := dec.Decode(&sil)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the silence object")
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return sil, http.StatusRequestEntityTooLarge, fmt.Errorf("decoding silence: the body is larger than %d bytes", mbe.Limit)
	case err != nil:
		return sil, http.StatusBadRequest, fmt.Errorf("decoding silence: %w", err)
	}
	return sil, 0, nil
}

// listSilences lists every silence with its "status": active, pending or expired.
func listSilences(set *notify.SilenceSet, clk clock.Clock) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		type withStatus struct {
			notify.Silence
			Status string `json:"status"`
		}
		now := clk.Now()
		list := set.List()
		out := make([]withStatus, 0, len(list))
		for _, s := range list {
			out = append(out, withStatus{Silence: s, Status: s.Status(now)})
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// deleteSilence removes the silence {id}; 404 for an unknown id.
func deleteSilence(set *notify.SilenceSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := set.Delete(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "deleted"})
	}
}

// backup streams a snapshot of the store (store.BackupSized): while the daemon runs it holds the
// store's lock, so `slod backup` has to ask it. The response carries the exact Content-Length; if
// the snapshot fails midway the connection is aborted, so the client sees an error rather than a
// short file.
func backup(s *store.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		started := false
		_, err := s.BackupSized(w, func(size int64) {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", `attachment; filename="slod-backup.db"`)
			h.Set("Content-Length", strconv.FormatInt(size, 10))
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
		})
		if err == nil {
			return
		}
		if !started {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// The status line is gone; aborting the connection is the only way left to say "failed".
		panic(http.ErrAbortHandler)
	}
}

type apiError struct {
	Error  string                 `json:"error"`
	Fields []*receiver.FieldError `json:"fields,omitempty"`
}

// writeError answers 404 for an unknown silence, 400 naming the fields of a validation error (or
// for too many silences), and 500 for anything else (the store failing).
func writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, notify.ErrSilenceNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	if errors.Is(err, notify.ErrTooManySilences) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	var fields []*receiver.FieldError
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *receiver.FieldError
		if errors.As(e, &fe) {
			fields = append(fields, fe)
		}
	}
	if len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Fields: fields})
		return
	}
	writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
