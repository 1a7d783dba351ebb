package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/store"
)

// The handlers of /api/v1, which Handler mounts: the SLOs, the silences and the store backup.
// Every answer but the backup's snapshot is JSON of one shape, {"status": "success", "data": ...}
// or {"status": "error", "error": "...", "fields": [...]}, as Prometheus's API answers; so are
// the mux's own 404 and 405 under /api/v1 (apiJSON).

// listSLOs answers GET /api/v1/slos: every SLO, or those the query's filters select (sloFilter).
func (d *Daemon) listSLOs(w http.ResponseWriter, r *http.Request) {
	match, err := sloFilter(r.URL.Query())
	if err != nil {
		writeFail(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []sloView{}
	for _, v := range d.sloViews() {
		if match(v) {
			out = append(out, v)
		}
	}
	writeData(w, out)
}

// getSLO answers GET /api/v1/slos/{service}/{name}: one entry of the list, by its id, 404 for an
// unknown one. A group of a grouped SLO is one entry: its name is the SLO's followed by the
// group's key ({service}/{name}{model="m1"}, escaped in the URL), so every URL names one object;
// the grouped SLO's own name answers 404 with how to ask for its groups.
func (d *Daemon) getSLO(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("service") + "/" + r.PathValue("name")
	if ref, ok := d.lookup(id); ok {
		writeData(w, d.view(ref, d.clock.Now()))
		return
	}
	groups := d.groups(id)
	msg := "no SLO " + id
	if groups > 0 {
		msg = fmt.Sprintf("%s is grouped (%d groups): ask for one group by its id (%s{label=\"value\"}), or list them with ?service=%s&name=%s",
			id, groups, id, url.QueryEscape(r.PathValue("service")), url.QueryEscape(r.PathValue("name")))
	}
	writeFail(w, http.StatusNotFound, msg)
}

// sloFilter returns the selection the query of GET /api/v1/slos asks for: service=S and name=N
// (each repeatable: any of the values) and label=KEY=VALUE (repeatable: every one must hold) on
// the entry's group labels and the SLO's labels. Any other parameter is an error rather than ignored: a misspelt filter must
// not answer with every SLO.
func sloFilter(q url.Values) (func(sloView) bool, error) {
	var labels [][2]string
	for key, vals := range q {
		switch key {
		case "service", "name":
		case "label":
			for _, kv := range vals {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return nil, fmt.Errorf("label=%q: want label=KEY=VALUE", kv)
				}
				labels = append(labels, [2]string{k, v})
			}
		default:
			return nil, fmt.Errorf("unknown parameter %q: the SLOs are filtered by service, name and label=KEY=VALUE", key)
		}
	}
	return func(v sloView) bool {
		if s := q["service"]; len(s) > 0 && !slices.Contains(s, v.Service) {
			return false
		}
		if n := q["name"]; len(n) > 0 && !slices.Contains(n, v.Name) {
			return false
		}
		for _, l := range labels {
			val, ok := v.Group[l[0]]
			if !ok {
				val = v.Labels[l[0]]
			}
			if val != l[1] {
				return false
			}
		}
		return true
	}, nil
}

// postSilence creates a silence (id empty) or replaces one: body a notify.Silence, data
// {"silenceID": "..."}. Invalid silences get 400 with "fields": [{"field": "endsAt", "message":
// "..."}], an unknown id 404, a body that is not JSON 415, one too large 413.
func postSilence(set *notify.SilenceSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sil, status, err := decodeSilence(w, r)
		if err != nil {
			writeFail(w, status, err.Error())
			return
		}
		out, err := set.Add(sil)
		if err != nil {
			writeError(w, err)
			return
		}
		writeData(w, map[string]string{"silenceID": out.ID})
	}
}

// decodeSilence reads a POSTed silence (decodeJSON, within notify.MaxSilenceJSON). It returns the
// HTTP status of a failure.
func decodeSilence(w http.ResponseWriter, r *http.Request) (notify.Silence, int, error) {
	var sil notify.Silence
	if status, err := decodeJSON(w, r, &sil, notify.MaxSilenceJSON); err != nil {
		return sil, status, fmt.Errorf("decoding silence: %w", err)
	}
	return sil, 0, nil
}

// decodeJSON reads a JSON request body into v: Content-Type application/json (a browser's form
// POST needs no CORS preflight), at most limit bytes, no unknown field, nothing after the object.
// It returns the HTTP status of a failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) (int, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, errors.New("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the object")
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d bytes", mbe.Limit)
	case err != nil:
		return http.StatusBadRequest, err
	}
	return 0, nil
}

// silenceView is a silence in the API, with its "status" at the time of the request: active,
// pending or expired.
type silenceView struct {
	notify.Silence
	Status string `json:"status"`
}

// listSilences lists every silence with its status, the ended ones too (for a week, or until
// room is needed: notify.SilenceSet).
func listSilences(set *notify.SilenceSet, clk clock.Clock) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		now := clk.Now()
		list := set.List()
		out := make([]silenceView, 0, len(list))
		for _, s := range list {
			out = append(out, silenceView{Silence: s, Status: s.Status(now)})
		}
		writeData(w, out)
	}
}

// deleteSilence expires the silence {id} now and answers it, expired: it stays listed with its
// end, for the record, as Alertmanager keeps expired silences. 404 for an unknown id.
func deleteSilence(set *notify.SilenceSet, clk clock.Clock) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sil, err := set.End(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeData(w, silenceView{Silence: sil, Status: sil.Status(clk.Now())})
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
			writeFail(w, http.StatusInternalServerError, err.Error())
			return
		}
		// The status line is gone; aborting the connection is the only way left to say "failed".
		panic(http.ErrAbortHandler)
	}
}

// apiResponse is every JSON answer of /api/v1.
type apiResponse struct {
	Status string                 `json:"status"` // success or error
	Data   any                    `json:"data,omitempty"`
	Error  string                 `json:"error,omitempty"`
	Fields []*receiver.FieldError `json:"fields,omitempty"`
}

// writeData answers 200 {"status": "success", "data": data}.
func writeData(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: data})
}

// writeFail answers {"status": "error", "error": msg} with code.
func writeFail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiResponse{Status: "error", Error: msg})
}

// apiForbidden answers an /api/v1 endpoint that a flag must enable (forbidden, in JSON).
func apiForbidden(msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeFail(w, http.StatusForbidden, msg) }
}

// apiJSON serves mux, and answers a request under /api/v1/ that no route takes with the mux's own
// status (404, or 405 with its Allow header) in the API's JSON instead of the mux's text.
func apiJSON(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" || !strings.HasPrefix(r.URL.Path, "/api/v1/") {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeFail(w, rec.code, fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, strings.ToLower(http.StatusText(rec.code))))
	})
}

// statusRecorder keeps the status and headers a handler answers with, and drops its body.
type statusRecorder struct {
	header http.Header
	code   int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) WriteHeader(code int)        { s.code = code }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }

// writeError answers 404 for an unknown silence, 400 naming the fields of a validation error (or
// for too many silences), and 500 for anything else (the store failing).
func writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, notify.ErrSilenceNotFound) {
		writeFail(w, http.StatusNotFound, err.Error())
		return
	}
	if errors.Is(err, notify.ErrTooManySilences) {
		writeFail(w, http.StatusBadRequest, err.Error())
		return
	}
	var fields []*receiver.FieldError
	for _, e := range splitErrors(err) {
		var fe *receiver.FieldError
		if errors.As(e, &fe) {
			fields = append(fields, fe)
		}
	}
	if len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, apiResponse{Status: "error", Error: err.Error(), Fields: fields})
		return
	}
	writeFail(w, http.StatusInternalServerError, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
