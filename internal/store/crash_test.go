package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// helperEnv makes the test binary, re-executed as a child, run crashWriter instead of the tests.
const helperEnv = "SLOD_STORE_CRASH_WRITER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		if err := crashWriter(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// counterCycle is cycle n of the crash test: the counter n goes into two SLO records (history and
// state), a new outbox entry and meta, so that a reader can tell a whole cycle from part of one.
// The history's size varies with n so that each cycle moves pages around in the file.
func counterCycle(n uint64) Cycle {
	num := binary.BigEndian.AppendUint64(nil, n)
	hist := make([]byte, 8+int(n%7)*4096)
	copy(hist, num)
	return Cycle{
		SLOs: []SLORecord{
			{ID: "svc/a", History: hist, State: num, UpdatedAt: time.Unix(int64(n), 0)},
			{ID: "svc/b", History: num, State: hist, UpdatedAt: time.Unix(int64(n), 0)},
		},
		Outbox: []OutboxEntry{{Receiver: "oncall", Key: "slod/svc/a/page", Payload: num, Created: time.Unix(int64(n), 0)}},
		Meta:   map[string][]byte{"counter": num},
	}
}

// crashWriter commits counter cycles forever, continuing from the store's counter, and prints
// each counter after its Commit returned; every fifth cycle it also acks the oldest outbox entry.
// The parent kills it with SIGKILL at some point.
func crashWriter(dir string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	n, err := storedCounter(s)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		n++
		if err := writeCounterCycle(s, n); err != nil {
			return err
		}
		fmt.Fprintln(out, n)
		if err := out.Flush(); err != nil {
			return err
		}
	}
}

// writeCounterCycle commits cycle n and, every fifth cycle, acks the oldest outbox entry in a
// transaction of its own, as the notifier would.
func writeCounterCycle(s *Store, n uint64) error {
	if _, err := s.Commit(counterCycle(n)); err != nil {
		return err
	}
	if n%5 != 0 {
		return nil
	}
	ob, err := s.Outbox()
	if err != nil {
		return err
	}
	return s.Ack(ob[0].Seq)
}

func storedCounter(s *Store) (uint64, error) {
	v, err := s.Meta("counter")
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta counter has %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// TestTornWrite kills a writer mid-stream (SIGKILL, no chance to close) several times over the
// same store and checks after each kill that the store opens, that every cycle the writer reported
// committed is there, and that the last cycle is whole: meta, both SLO records and the newest
// outbox entry carry the same counter.
func TestTornWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var reported uint64
	for round := 0; round < 20; round++ {
		t.Run(fmt.Sprintf("kill %d", round), func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+dir)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill after a varying number of cycles; the writer is by then inside its next Commit
			// or Ack most of the time, which is the point.
			target := reported + 5 + rng.Uint64N(40)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				n, err := strconv.ParseUint(sc.Text(), 10, 64)
				if err != nil {
					t.Fatalf("writer printed %q", sc.Text())
				}
				reported = n
				if n >= target {
					break
				}
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			// The writer may have got further than the line read so far: the rest of what it
			// printed before dying is still in the pipe.
			for sc.Scan() {
				if n, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
					reported = n
				}
			}
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Exited() {
				t.Fatalf("writer was not killed by the signal: %v (did it fail? see stderr)", err)
			}
			if reported < target {
				t.Fatalf("writer stopped at %d before reaching %d", reported, target)
			}
			checkCounterStore(t, dir, reported)
		})
	}
}

// checkCounterStore opens the store left by a killed crashWriter and checks that it holds a whole
// cycle no older than the last one reported.
func checkCounterStore(t *testing.T, dir string, reported uint64) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	// Close cleanly only after checking, and keep the next round's writer from finding it held.
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	n, err := storedCounter(s)
	if err != nil {
		t.Fatal(err)
	}
	// Committed means durable: the reported cycle must be there. At most the one cycle the
	// writer was in when killed may be there too.
	if n < reported || n > reported+1 {
		t.Fatalf("meta counter = %d, writer had reported %d", n, reported)
	}
	checkCounterConsistent(t, s, n)
	t.Logf("writer reported cycle %d when killed; the store holds cycle %d", reported, n)
}

// checkCounterConsistent asserts that every part of the store agrees on counter n.
func checkCounterConsistent(t *testing.T, s *Store, n uint64) {
	t.Helper()
	slos, err := s.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	want := counterCycle(n)
	assertSLOs(t, slos, map[string]SLORecord{"svc/a": want.SLOs[0], "svc/b": want.SLOs[1]})
	ob, err := s.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	if len(ob) == 0 {
		t.Fatal("outbox is empty")
	}
	for i, e := range ob {
		got := binary.BigEndian.Uint64(e.Payload)
		if i > 0 && (e.Seq <= ob[i-1].Seq || got <= binary.BigEndian.Uint64(ob[i-1].Payload)) {
			t.Fatalf("outbox out of order at %d: %+v after %+v", i, e, ob[i-1])
		}
	}
	if last := binary.BigEndian.Uint64(ob[len(ob)-1].Payload); last != n {
		t.Errorf("newest outbox entry is for cycle %d, meta says %d", last, n)
	}
	// One entry per cycle, one ack per five cycles: the count is exact whatever was killed, as
	// each Commit and each Ack is atomic... except an ack that the kill landed before.
	if wantLen := int(n - n/5); len(ob) != wantLen && len(ob) != wantLen+1 {
		t.Errorf("outbox holds %d entries after %d cycles, want %d (or one more if the kill fell between a commit and its ack)", len(ob), n, wantLen)
	}
}

// TestCorruptFile damages a store on purpose; Open or the first read must return an error (never
// panic or crash the process).
func TestCorruptFile(t *testing.T) {
	tests := []struct {
		name  string
		clean bool // closed cleanly before the damage: Open skips the full check
		// harm gets the size the file's pages need (bbolt grows the file ahead of them, so cutting
		// the file in half may cut nothing in use).
		harm func(t *testing.T, path string, used int64)
	}{
		{"truncated to half", false, func(t *testing.T, path string, used int64) { truncateTo(t, path, used/2) }},
		{"truncated to half after clean close", true, func(t *testing.T, path string, used int64) { truncateTo(t, path, used/2) }},
		{"last page cut off after clean close", true, func(t *testing.T, path string, used int64) { truncateTo(t, path, used-4096) }},
		{"truncated to one page", true, func(t *testing.T, path string, _ int64) { truncateTo(t, path, 4096) }},
		{"empty meta pages", true, func(t *testing.T, path string, _ int64) { overwrite(t, path, 0, make([]byte, 2*4096)) }},
		{"garbage data pages", false, func(t *testing.T, path string, _ int64) { garbage(t, path, 2*4096) }},
		{"garbage data pages after clean close", true, func(t *testing.T, path string, _ int64) { garbage(t, path, 2*4096) }},
		{"not a bbolt file", true, func(t *testing.T, path string, _ int64) {
			if err := os.WriteFile(path, []byte("this is not a database\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			for n := uint64(1); n <= 20; n++ {
				if _, err := s.Commit(counterCycle(n)); err != nil {
					t.Fatal(err)
				}
			}
			var used int64
			if err := s.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
				t.Fatal(err)
			}
			if tc.clean {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				// Leave the clean flag cleared, as a crash would, then let go of the file.
				if err := s.db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			tc.harm(t, path, used)
			err = openAndReadAll(dir)
			if err == nil {
				t.Fatal("damaged store opened and read without an error")
			}
			t.Logf("error (as wanted): %v", err)
		})
	}
}

// openAndReadAll opens the store and reads everything, returning the first error.
func openAndReadAll(dir string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.SLOs(); err != nil {
		return err
	}
	if _, err := s.Outbox(); err != nil {
		return err
	}
	if _, err := s.Silences(); err != nil {
		return err
	}
	_, err = s.Meta("counter")
	return err
}

func truncateTo(t *testing.T, path string, size int64) {
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// garbage fills everything after off with random bytes (from a fixed seed, so the test does the
// same each run).
func garbage(t *testing.T, path string, off int64) {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fi.Size()-off)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	overwrite(t, path, off, b)
}
