package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openT opens a store in a fresh directory and closes it when the test ends.
func openT(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var t0 = time.Date(2026, 10, 4, 6, 1, 0, 123456789, time.UTC)

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for _, c := range []struct {
		name string
		path string
		mode os.FileMode
	}{
		{"directory", dir, 0o700},
		{"file", filepath.Join(dir, FileName), 0o600},
	} {
		t.Run(c.name, func(t *testing.T) {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.mode {
				t.Errorf("mode of %s = %v, want %v", c.path, got, c.mode)
			}
		})
	}
	if s.Path() != filepath.Join(dir, FileName) {
		t.Errorf("Path() = %q", s.Path())
	}
	if s.Size() <= 0 {
		t.Errorf("Size() = %d, want the file size", s.Size())
	}
}

func TestSLORoundTrip(t *testing.T) {
	tests := []struct {
		name string
		recs []SLORecord
	}{
		{"one record", []SLORecord{{ID: "chat-api/availability", History: []byte{1, 2, 3}, State: []byte(`{"alerts":[]}`), UpdatedAt: t0}}},
		{"empty history and zero time", []SLORecord{{ID: "a/b"}}},
		{"large history", []SLORecord{{ID: "big/one", History: bytes.Repeat([]byte{0xab}, 24<<10), State: []byte("{}"), UpdatedAt: t0}}},
		{"several and replaced", []SLORecord{
			{ID: "x/1", History: []byte("old"), UpdatedAt: t0},
			{ID: "x/2", History: []byte("two"), UpdatedAt: t0.Add(time.Minute)},
			{ID: "x/1", History: []byte("new"), UpdatedAt: t0.Add(2 * time.Minute)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t)
			if _, err := s.Commit(Cycle{SLOs: tc.recs}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			want := map[string]SLORecord{}
			for _, r := range tc.recs {
				want[r.ID] = r
			}
			got, err := s.SLOs()
			if err != nil {
				t.Fatalf("SLOs: %v", err)
			}
			assertSLOs(t, got, want)
		})
	}
}

func assertSLOs(t *testing.T, got, want map[string]SLORecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d SLO records, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("SLO %s missing", id)
			continue
		}
		if g.ID != w.ID || !bytes.Equal(g.History, w.History) || !bytes.Equal(g.State, w.State) || !g.UpdatedAt.Equal(w.UpdatedAt) {
			t.Errorf("SLO %s = %+v, want %+v", id, g, w)
		}
	}
}

func TestDeleteSLO(t *testing.T) {
	s := openT(t)
	if _, err := s.Commit(Cycle{SLOs: []SLORecord{{ID: "a/1"}, {ID: "a/2"}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a/1", "absent/slo"} {
		if err := s.DeleteSLO(id); err != nil {
			t.Fatalf("DeleteSLO(%s): %v", id, err)
		}
	}
	got, err := s.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["a/2"]; len(got) != 1 || !ok {
		t.Errorf("after deleting a/1: %v, want only a/2", got)
	}
}

func entry(key string, payload string) OutboxEntry {
	return OutboxEntry{Receiver: "oncall", Key: key, Payload: []byte(payload), Created: t0}
}

func TestOutboxOrderAndSeqs(t *testing.T) {
	s := openT(t)
	var all []uint64
	var want []string
	for cycle := 0; cycle < 3; cycle++ {
		var es []OutboxEntry
		for i := 0; i < 4; i++ {
			p := fmt.Sprintf("c%d-e%d", cycle, i)
			es = append(es, entry("slod/svc/slo/page", p))
			want = append(want, p)
		}
		seqs, err := s.Commit(Cycle{Outbox: es})
		if err != nil {
			t.Fatal(err)
		}
		if len(seqs) != len(es) {
			t.Fatalf("Commit returned %d seqs for %d entries", len(seqs), len(es))
		}
		all = append(all, seqs...)
	}
	for i := 1; i < len(all); i++ {
		if all[i] <= all[i-1] {
			t.Fatalf("seqs not strictly increasing: %v", all)
		}
	}
	got, err := s.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Outbox has %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if string(e.Payload) != want[i] || e.Seq != all[i] {
			t.Errorf("entry %d = seq %d %q, want seq %d %q", i, e.Seq, e.Payload, all[i], want[i])
		}
	}
}

func TestOutboxAckAndUpdate(t *testing.T) {
	s := openT(t)
	seqs, err := s.Commit(Cycle{Outbox: []OutboxEntry{entry("k1", "p1"), entry("k2", "p2"), entry("k3", "p3")}})
	if err != nil {
		t.Fatal(err)
	}
	updated := OutboxEntry{Seq: seqs[2], Receiver: "oncall", Key: "k3", Payload: []byte("p3"), Created: t0,
		Attempts: 2, NextAttempt: t0.Add(30 * time.Second), LastError: "pagerduty: 503"}
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"ack first", func() error { return s.Ack(seqs[0]) }, nil},
		{"ack again is fine", func() error { return s.Ack(seqs[0]) }, nil},
		{"update third", func() error { return s.UpdateOutbox(updated) }, nil},
		{"update acked entry", func() error { e := updated; e.Seq = seqs[0]; return s.UpdateOutbox(e) }, ErrNotFound},
		{"update invalid entry", func() error { e := updated; e.Receiver = ""; return s.UpdateOutbox(e) }, ErrInvalid},
	}
	for _, st := range steps {
		err := st.do()
		if (st.wantErr == nil && err != nil) || (st.wantErr != nil && !errors.Is(err, st.wantErr)) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
	}
	got, err := s.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	want := []OutboxEntry{{Seq: seqs[1], Receiver: "oncall", Key: "k2", Payload: []byte("p2"), Created: t0}, updated}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Outbox = %+v\nwant %+v", got, want)
	}
}

func TestCommitIsAtomic(t *testing.T) {
	good := Cycle{
		SLOs:   []SLORecord{{ID: "svc/ok", History: []byte("h"), State: []byte("s"), UpdatedAt: t0}},
		Outbox: []OutboxEntry{entry("slod/svc/ok/page", "fire")},
		Meta:   map[string][]byte{"last_cycle": []byte("1")},
	}
	tests := []struct {
		name  string
		cycle Cycle
	}{
		{"empty SLO id after a valid one", Cycle{SLOs: []SLORecord{good.SLOs[0], {ID: ""}}, Outbox: good.Outbox, Meta: good.Meta}},
		{"outbox entry without receiver", Cycle{SLOs: good.SLOs, Outbox: []OutboxEntry{good.Outbox[0], {Key: "k"}}, Meta: good.Meta}},
		{"outbox entry without key", Cycle{SLOs: good.SLOs, Outbox: []OutboxEntry{{Receiver: "r"}}, Meta: good.Meta}},
		{"outbox entry with a seq", Cycle{SLOs: good.SLOs, Outbox: []OutboxEntry{{Seq: 7, Receiver: "r", Key: "k"}}}},
		{"reserved meta key", Cycle{SLOs: good.SLOs, Outbox: good.Outbox, Meta: map[string][]byte{"last_cycle": []byte("1"), "store/schema": {9}}}},
		{"empty meta key", Cycle{SLOs: good.SLOs, Outbox: good.Outbox, Meta: map[string][]byte{"": []byte("1")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t)
			seqs, err := s.Commit(tc.cycle)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Commit err = %v, want ErrInvalid", err)
			}
			if seqs != nil {
				t.Errorf("Commit returned seqs %v with an error", seqs)
			}
			assertEmpty(t, s)
			// The rolled-back transaction must not have used up a sequence number either.
			seqs, err = s.Commit(good)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seqs, []uint64{1}) {
				t.Errorf("first successful commit got seqs %v, want [1]", seqs)
			}
		})
	}
}

func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	slos, err := s.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	ob, err := s.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta("last_cycle")
	if err != nil {
		t.Fatal(err)
	}
	if len(slos) != 0 || len(ob) != 0 || m != nil {
		t.Errorf("store not empty after a failed commit: %d SLOs, %d outbox entries, meta %q", len(slos), len(ob), m)
	}
}

func TestMeta(t *testing.T) {
	s := openT(t)
	tests := []struct {
		name    string
		key     string
		value   []byte
		wantErr error
	}{
		{"plain", "last_cycle", []byte("2026-10-04T06:01:00Z"), nil},
		{"empty value", "flag", []byte{}, nil},
		{"reserved", "store/clean", []byte{1}, ErrInvalid},
		{"empty key", "", []byte("x"), ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.PutMeta(tc.key, tc.value)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("PutMeta err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Meta(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !bytes.Equal(got, tc.value) {
				t.Errorf("Meta(%q) = %q, want %q", tc.key, got, tc.value)
			}
		})
	}
	got, err := s.Meta("never-set")
	if err != nil || got != nil {
		t.Errorf("Meta of an absent key = %q, %v; want nil, nil", got, err)
	}
	schema, err := s.Meta("store/schema")
	if err != nil || !bytes.Equal(schema, []byte{0, 0, 0, SchemaVersion}) {
		t.Errorf("store/schema = %v, %v", schema, err)
	}
}

func TestSilences(t *testing.T) {
	s := openT(t)
	steps := []struct {
		name string
		do   func() error
		want map[string][]byte
	}{
		{"put two", func() error {
			if err := s.PutSilence("s1", []byte(`{"matchers":{"service":"chat"}}`)); err != nil {
				return err
			}
			return s.PutSilence("s2", []byte("two"))
		}, map[string][]byte{"s1": []byte(`{"matchers":{"service":"chat"}}`), "s2": []byte("two")}},
		{"replace one", func() error { return s.PutSilence("s2", []byte("two'")) },
			map[string][]byte{"s1": []byte(`{"matchers":{"service":"chat"}}`), "s2": []byte("two'")}},
		{"delete one and an absent one", func() error {
			if err := s.DeleteSilence("s1"); err != nil {
				return err
			}
			return s.DeleteSilence("nope")
		}, map[string][]byte{"s2": []byte("two'")}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.Silences()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: Silences = %q, want %q", st.name, got, st.want)
		}
	}
	if err := s.PutSilence("", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutSilence with empty id: %v, want ErrInvalid", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := SLORecord{ID: "svc/slo", History: []byte("hist"), State: []byte(`{"a":1}`), UpdatedAt: t0}
	seqs, err := s.Commit(Cycle{SLOs: []SLORecord{rec}, Outbox: []OutboxEntry{entry("k", "p")}, Meta: map[string][]byte{"m": []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSilence("sil", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	slos, _ := s.SLOs()
	assertSLOs(t, slos, map[string]SLORecord{rec.ID: rec})
	ob, _ := s.Outbox()
	if len(ob) != 1 || ob[0].Seq != seqs[0] {
		t.Errorf("outbox after reopen = %+v", ob)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.SLOs != 1 || st.Outbox != 1 || st.Silences != 1 || st.Schema != SchemaVersion || st.Bytes != s.Size() {
		t.Errorf("Stats = %+v", st)
	}
	// A new entry after reopening continues the sequence rather than reusing a number.
	next, err := s.Commit(Cycle{Outbox: []OutboxEntry{entry("k", "p2")}})
	if err != nil {
		t.Fatal(err)
	}
	if next[0] <= seqs[0] {
		t.Errorf("seq after reopen = %d, not after %d", next[0], seqs[0])
	}
}

func TestOpenLockedStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		open func(string) (*Store, error)
	}{
		{"read-write", Open},
		{"read-only", OpenReadOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s2, err := tc.open(dir)
			if err == nil {
				s2.Close()
				t.Fatal("second open succeeded while the store is held")
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("err = %v, want ErrLocked", err)
			}
			want := fmt.Sprintf("store %s is in use by another process (is slod running?)", filepath.Join(dir, FileName))
			if err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	t.Run("missing store", func(t *testing.T) {
		if _, err := OpenReadOnly(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want ErrNotExist", err)
		}
	})
	t.Run("reads and refuses writes", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(Cycle{SLOs: []SLORecord{{ID: "a/b"}}}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		ro, err := OpenReadOnly(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		slos, err := ro.SLOs()
		if err != nil || len(slos) != 1 {
			t.Errorf("SLOs = %v, %v", slos, err)
		}
		if _, err := ro.Commit(Cycle{SLOs: []SLORecord{{ID: "c/d"}}}); err == nil {
			t.Error("Commit on a read-only store succeeded")
		}
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Reserved keys are off limits through the API, so write it the way a newer slod would.
	if err := s.update("test", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte{0, 0, 0, SchemaVersion + 1})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, tc := range []struct {
		name string
		open func(string) (*Store, error)
	}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.open(dir)
			if !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("err = %v, want ErrNewerSchema", err)
			}
		})
	}
}

// TestOpenOtherBoltFiles: a bbolt file without buckets is what a crash right after creating the
// store leaves (Open initialises it, a read-only open refuses it); one with foreign buckets is
// not slod's and is refused by both.
func TestOpenOtherBoltFiles(t *testing.T) {
	tests := []struct {
		name       string
		fill       func(tx *bolt.Tx) error
		open       func(string) (*Store, error)
		wantErr    error // nil: opens
		wantSchema int
	}{
		{"fresh file, Open", func(*bolt.Tx) error { return nil }, Open, nil, SchemaVersion},
		{"fresh file, OpenReadOnly", func(*bolt.Tx) error { return nil }, OpenReadOnly, ErrNotSlod, 0},
		{"foreign buckets, Open", func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }, Open, ErrNotSlod, 0},
		{"foreign buckets, OpenReadOnly", func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }, OpenReadOnly, ErrNotSlod, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), boltFile(t, tc.fill), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := tc.open(dir)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			st, err := s.Stats()
			if err != nil || st.Schema != tc.wantSchema {
				t.Errorf("Stats = %+v, %v; want schema %d", st, err, tc.wantSchema)
			}
		})
	}
}

// TestCommitDeletesSLOs: a cycle deletes records (a retired group) in its own transaction.
func TestCommitDeletesSLOs(t *testing.T) {
	s := openT(t)
	rec := func(id string) SLORecord {
		return SLORecord{ID: id, History: []byte("h"), State: []byte("{}"), UpdatedAt: t0}
	}
	if _, err := s.Commit(Cycle{SLOs: []SLORecord{rec(`gw/a{model="m1"}`), rec(`gw/a{model="m2"}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(Cycle{SLOs: []SLORecord{rec(`gw/a{model="m3"}`)}, DeleteSLOs: []string{`gw/a{model="m1"}`, "absent"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	if _, gone := got[`gw/a{model="m1"}`]; gone || len(got) != 2 {
		t.Errorf("records after the delete: %v", got)
	}
}

func TestMetaPrefixAndDelete(t *testing.T) {
	s := openT(t)
	if _, err := s.Commit(Cycle{Meta: map[string][]byte{"incidents/a": []byte("1"), "incidents/b": []byte("2"), "incidentsX": []byte("3"), "other": []byte("4")}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.MetaPrefix("incidents/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["incidents/a"]) != "1" || string(got["incidents/b"]) != "2" {
		t.Fatalf("MetaPrefix = %q, want incidents/a and incidents/b", got)
	}
	if _, err := s.Commit(Cycle{Meta: map[string][]byte{"incidents/c": []byte("5")}, DeleteMeta: []string{"incidents/a", "absent"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.MetaPrefix("incidents/")
	if _, ok := got["incidents/a"]; ok || len(got) != 2 {
		t.Errorf("after deleting incidents/a: %q", got)
	}
	if _, err := s.Commit(Cycle{DeleteMeta: []string{"store/schema"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("deleting a reserved key: err = %v, want ErrInvalid", err)
	}
	if v, _ := s.Meta("store/schema"); v == nil {
		t.Error("the schema key was deleted")
	}
}
