package daemon

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/store"
)

// damageRecord rewrites the stored record of shop/availability with fn, the daemon stopped.
func damageRecord(t *testing.T, h *harness, fn func(*store.SLORecord)) {
	t.Helper()
	h.close()
	s, err := store.Open(filepath.Join(h.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := recs["shop/availability"]
	if !ok {
		t.Fatal("no record of shop/availability")
	}
	fn(&rec)
	if _, err := s.Commit(store.Cycle{SLOs: []store.SLORecord{rec}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// openErr starts a daemon over the harness's directory and returns New's error.
func openErr(h *harness) error {
	opt := Options{ConfigFile: filepath.Join(h.dir, "slod.yml"), StoragePath: filepath.Join(h.dir, "data")}
	d, err := New(context.Background(), opt)
	if err == nil {
		d.Close()
	}
	return err
}

// TestCorruptStoreAtStart: a store file that is not a store, or holds an alert state that does
// not decode, stops slod at start with an error that names the file and the restore procedure;
// an SLI history that does not decode is refetched, as `slod restore` warns it would be.
func TestCorruptStoreAtStart(t *testing.T) {
	t.Run("garbage file", func(t *testing.T) {
		h := newHarness(t)
		h.close()
		garbage := make([]byte, 64<<10)
		rand.Read(garbage)
		path := filepath.Join(h.dir, "data", store.FileName)
		if err := os.WriteFile(path, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		err := openErr(h)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "slod restore -i BACKUP") {
			t.Errorf("start over a garbage store: %v; want an error naming %s and the restore procedure", err, path)
		}
	})
	t.Run("alert state does not decode", func(t *testing.T) {
		h := newHarness(t)
		h.cycle(t0)
		damageRecord(t, h, func(r *store.SLORecord) { r.State = []byte(`{"alerts": [tru`) })
		err := openErr(h)
		path := filepath.Join(h.dir, "data", store.FileName)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "alert state of SLO shop/availability") ||
			!strings.Contains(err.Error(), "slod restore -i BACKUP") {
			t.Errorf("start over a damaged alert state: %v; want an error naming %s, the SLO and the restore procedure", err, path)
		}
		warnings, cerr := checkStoreAt(t, filepath.Join(h.dir, "data"))
		if cerr == nil {
			t.Errorf("CheckStore (what slod restore runs) accepts the store slod run refuses; warnings %v", warnings)
		}
	})
	t.Run("history does not decode", func(t *testing.T) {
		h := newHarness(t)
		h.cycle(t0)
		damageRecord(t, h, func(r *store.SLORecord) { r.History = []byte("not a history") })
		warnings, cerr := checkStoreAt(t, filepath.Join(h.dir, "data"))
		if cerr != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "shop/availability") {
			t.Errorf("CheckStore = %v, %v; want one warning about shop/availability's history", warnings, cerr)
		}
		h.open()
		if !strings.Contains(h.logs.String(), "repairing a damaged record") {
			t.Errorf("slod run does not report the damaged history:\n%s", h.logs.String())
		}
		before := h.src.queries
		h.cycle(t0.Add(time.Minute))
		if h.src.queries == before {
			t.Error("the damaged history was not refetched")
		}
	})
}

func checkStoreAt(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	s, err := store.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return CheckStore(s)
}
