package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/store"
)

// TestRestoreAgreesWithRun: `slod restore` refuses a snapshot whose alert state `slod run` could
// not read, and installs one whose SLI history run would refetch, with a warning saying so.
func TestRestoreAgreesWithRun(t *testing.T) {
	snapshot := func(rec store.SLORecord) string {
		t.Helper()
		dir := t.TempDir()
		s, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(store.Cycle{SLOs: []store.SLORecord{rec}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, store.FileName)
	}
	at := time.Unix(1_790_000_000, 0)
	badState := snapshot(store.SLORecord{ID: "shop/availability", State: []byte(`{"alerts":[`), UpdatedAt: at})
	code, _, stderr := runCmd("restore", "-i", badState, "--storage.path", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "the alert state of SLO shop/availability does not decode") {
		t.Errorf("restore of an unreadable alert state: exit %d, %q; want 1 naming the record", code, stderr)
	}
	badHistory := snapshot(store.SLORecord{ID: "shop/availability", History: []byte("garbage"), State: []byte(`{"alerts":[]}`), UpdatedAt: at})
	target := t.TempDir()
	code, stdout, stderr := runCmd("restore", "-i", badHistory, "--storage.path", target)
	if code != 0 || !strings.Contains(stderr, "warning: the history of SLO shop/availability does not decode") || !strings.Contains(stdout, "1 SLOs") {
		t.Errorf("restore of an unreadable history: exit %d, stdout %q, stderr %q; want 0 with a warning", code, stdout, stderr)
	}
}
