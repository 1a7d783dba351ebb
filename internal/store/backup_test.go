package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestBackupWhileWriting takes backups while another goroutine commits cycles as fast as it can;
// every backup must restore into a store that passes the full check and holds one whole cycle.
func TestBackupWhileWriting(t *testing.T) {
	s := openT(t)
	if err := writeCounterCycle(s, 1); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for n := uint64(2); ; n++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := writeCounterCycle(s, n); err != nil {
				done <- err
				return
			}
		}
	}()
	var counters []uint64
	for i := 0; i < 8; i++ {
		var buf bytes.Buffer
		n, err := s.Backup(&buf)
		if err != nil {
			t.Fatalf("Backup %d: %v", i, err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("Backup reported %d bytes, wrote %d", n, buf.Len())
		}
		dir := t.TempDir()
		st, err := RestoreWithOptions(&buf, dir, RestoreOptions{})
		if err != nil {
			t.Fatalf("restoring backup %d: %v", i, err)
		}
		if st.SLOs != 2 || st.Bytes != n {
			t.Errorf("restored stats %+v, want 2 SLOs and %d bytes", st, n)
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatalf("opening restored backup %d: %v", i, err)
		}
		c, err := storedCounter(r)
		if err != nil {
			t.Fatal(err)
		}
		checkCounterConsistent(t, r, c)
		counters = append(counters, c)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	t.Logf("backups caught cycles %v", counters)
}

// TestBackupSized: the size is reported before the first byte and is exactly what is written, so
// the daemon can send it as Content-Length; the snapshot verifies.
func TestBackupSized(t *testing.T) {
	s := openT(t)
	for n := uint64(1); n <= 12; n++ {
		if err := writeCounterCycle(s, n); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	size := int64(-1)
	n, err := s.BackupSized(&buf, func(n int64) {
		if buf.Len() != 0 {
			t.Errorf("size reported after %d bytes were written", buf.Len())
		}
		size = n
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != n || n != int64(buf.Len()) {
		t.Errorf("size %d, returned %d, written %d: want all equal", size, n, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Verify(path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if st.SLOs != 2 || st.Outbox != 12-12/5 {
		t.Errorf("backup holds %+v, want 2 SLOs and %d outbox entries", st, 12-12/5)
	}
	// A failing writer fails the backup.
	if _, err := s.BackupSized(&failingWriter{budget: 8192}, nil); err == nil {
		t.Error("a backup into a broken writer succeeded")
	}
}

// backupOf returns a backup of a closed store holding counter cycles 1..n.
func backupOf(t *testing.T, n uint64) []byte {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := uint64(1); i <= n; i++ {
		if err := writeCounterCycle(s, i); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// boltFile returns the bytes of a bbolt file that fn filled.
func boltFile(t *testing.T, fn func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRestore(t *testing.T) {
	good := backupOf(t, 7)
	newer := boltFile(t, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, []byte{0, 0, 0, SchemaVersion + 1})
	})
	foreign := boltFile(t, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })

	// existing prepares the target directory: no store, a closed store, a store held open, or a
	// damaged file. It returns a cleanup for the held store.
	type target int
	const (
		none target = iota
		closedStore
		liveStore
		damaged
	)
	tests := []struct {
		name     string
		input    []byte
		existing target
		force    bool
		wantErr  error // nil: success
	}{
		{"into an empty directory", good, none, false, nil},
		{"over an existing store", good, closedStore, false, ErrExists},
		{"over an existing store with force", good, closedStore, true, nil},
		{"over a live store", good, liveStore, false, ErrLocked},
		{"over a live store with force", good, liveStore, true, ErrLocked},
		{"over a damaged file with force", good, damaged, true, nil},
		{"garbage input", []byte(strings.Repeat("not a store ", 2000)), none, false, ErrCorrupt},
		{"truncated input", good[:len(good)/2], none, false, ErrCorrupt},
		{"empty input", nil, none, false, ErrCorrupt},
		{"newer schema", newer, none, false, ErrNewerSchema},
		{"not a slod store", foreign, none, false, ErrNotSlod},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			var before []byte
			switch tc.existing {
			case closedStore, liveStore:
				s, err := Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Commit(Cycle{SLOs: []SLORecord{{ID: "existing/slo"}}}); err != nil {
					t.Fatal(err)
				}
				if tc.existing == liveStore {
					defer s.Close()
				} else if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			case damaged:
				if err := os.WriteFile(path, []byte("damaged"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before, _ = os.ReadFile(path)

			st, err := RestoreWithOptions(bytes.NewReader(tc.input), dir, RestoreOptions{Force: tc.force})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				after, _ := os.ReadFile(path)
				if !bytes.Equal(before, after) {
					t.Error("a refused restore changed the existing store file")
				}
				assertNoTempFiles(t, dir)
				return
			}
			if err != nil {
				t.Fatalf("RestoreWithOptions: %v", err)
			}
			if st.Bytes != int64(len(tc.input)) || st.SLOs != 2 || st.Outbox != 7-7/5 || st.Schema != SchemaVersion {
				t.Errorf("stats = %+v", st)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("restored file mode %v, want 0600", fi.Mode().Perm())
			}
			assertNoTempFiles(t, dir)
			s, err := Open(dir)
			if err != nil {
				t.Fatalf("opening the restored store: %v", err)
			}
			defer s.Close()
			checkCounterConsistent(t, s, 7)
		})
	}
	t.Run("Restore without options refuses an existing store", func(t *testing.T) {
		dir := t.TempDir()
		if err := Restore(bytes.NewReader(good), dir); err != nil {
			t.Fatal(err)
		}
		if err := Restore(bytes.NewReader(good), dir); !errors.Is(err, ErrExists) {
			t.Errorf("second Restore err = %v, want ErrExists", err)
		}
	})
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != FileName {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

// failingWriter is a writer whose connection breaks after budget bytes.
type failingWriter struct {
	budget int
}

func (w *failingWriter) Write(b []byte) (int, error) {
	if len(b) > w.budget {
		n := w.budget
		w.budget = 0
		return n, errors.New("connection reset by peer")
	}
	w.budget -= len(b)
	return len(b), nil
}
