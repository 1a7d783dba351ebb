package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/store"
)

// fillStore opens a store in dir and writes slos SLO records, outbox outbox entries and one silence.
func fillStore(t *testing.T, dir string, slos, outbox int) *store.Store {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var c store.Cycle
	for i := 0; i < slos; i++ {
		c.SLOs = append(c.SLOs, store.SLORecord{ID: fmt.Sprintf("svc/slo-%d", i), History: bytes.Repeat([]byte{byte(i)}, 1000),
			State: []byte(`{"alerts":[]}`), UpdatedAt: time.Unix(1_790_000_000, 0)})
	}
	for i := 0; i < outbox; i++ {
		c.Outbox = append(c.Outbox, store.OutboxEntry{Receiver: "oncall", Key: fmt.Sprintf("slod/svc/slo-%d/page", i), Payload: []byte("{}")})
	}
	if _, err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSilence("maintenance", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	return s
}

func runCmd(name string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = commands[name].run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestBackupCommand(t *testing.T) {
	// A store no process holds: read directly.
	idle := t.TempDir()
	if err := fillStore(t, idle, 3, 2).Close(); err != nil {
		t.Fatal(err)
	}
	// A store held as by the daemon, which serves the snapshot over HTTP as the daemon does (its
	// own endpoint is tested in internal/daemon, and end to end in TestBackupRestoreEndToEnd).
	live := t.TempDir()
	held := fillStore(t, live, 5, 4)
	defer held.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+backupPath, func(w http.ResponseWriter, r *http.Request) {
		if _, err := held.BackupSized(w, func(size int64) {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}); err != nil {
			t.Errorf("serving the snapshot: %v", err)
		}
	})
	daemon := httptest.NewServer(mux)
	defer daemon.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more
	// A daemon whose snapshot is cut off midway: fewer bytes than its Content-Length.
	cutoff := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "65536")
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 4096))
	}))
	defer cutoff.Close()
	// A daemon that answers with something that is not a store.
	bogus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("<html>"), 2000))
	}))
	defer bogus.Close()

	tests := []struct {
		name     string
		args     func(out string) []string
		wantCode int
		wantLine string // substring of the one-line report (stdout, or stderr with -o -)
		wantSLOs int    // of the written snapshot; 0: nothing written
		wantErr  string // substring of stderr on failure
	}{
		{"idle store to a file", func(out string) []string { return []string{"--storage.path", idle, "-o", out} },
			0, "3 SLOs, 2 outbox entries, 1 silences", 3, ""},
		{"idle store to stdout", func(string) []string { return []string{"--storage.path", idle, "-o", "-"} },
			0, "to standard output:", 3, ""},
		{"live store through the daemon", func(out string) []string {
			return []string{"--storage.path", live, "-o", out, "--web.url", daemon.URL}
		}, 0, "from the running slod at " + daemon.URL, 5, ""},
		{"live store, daemon unreachable", func(out string) []string {
			return []string{"--storage.path", live, "-o", out, "--web.url", down.URL}
		}, 1, "", 0, "is held by a running slod, and asking the slod at --web.url for the snapshot failed"},
		{"remote store through the daemon", func(out string) []string {
			return []string{"--storage.path", filepath.Join(t.TempDir(), "not-here"), "-o", out, "--web.url", daemon.URL}
		}, 0, "from the running slod at " + daemon.URL, 5, ""},
		{"remote store, daemon unreachable", func(out string) []string {
			return []string{"--storage.path", filepath.Join(t.TempDir(), "not-here"), "-o", out, "--web.url", down.URL}
		}, 1, "", 0, "is not on this machine, and asking the slod at --web.url for the snapshot failed"},
		{"live store, wrong endpoint", func(out string) []string {
			return []string{"--storage.path", live, "-o", out, "--web.url", daemon.URL + "/nothing-here"}
		}, 1, "", 0, "404 Not Found"},
		{"live store, snapshot cut off", func(out string) []string {
			return []string{"--storage.path", live, "-o", out, "--web.url", cutoff.URL}
		}, 1, "", 0, "unexpected EOF"},
		{"live store, daemon sends garbage", func(out string) []string {
			return []string{"--storage.path", live, "-o", out, "--web.url", bogus.URL}
		}, 1, "", 0, "failed verification, nothing written"},
		{"missing store", func(out string) []string { return []string{"--storage.path", t.TempDir(), "-o", out} },
			1, "", 0, "no such file or directory"},
		{"no output", func(string) []string { return []string{"--storage.path", idle} }, 2, "", 0, "-o FILE is required"},
		{"stray argument", func(out string) []string { return []string{"-o", out, "extra"} }, 2, "", 0, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outDir := t.TempDir()
			out := filepath.Join(outDir, "backup.db")
			args := tc.args(out)
			code, stdout, stderr := runCmd("backup", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, stderr)
			}
			if tc.wantCode != 0 {
				if !strings.Contains(stderr, tc.wantErr) {
					t.Errorf("stderr %q does not contain %q", stderr, tc.wantErr)
				}
				if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
					t.Errorf("a failed backup left %d files in the output directory", len(entries))
				}
				return
			}
			report, snapshot := stdout, out
			if args[len(args)-1] == "-" {
				report = stderr
				if err := os.WriteFile(out, []byte(stdout), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Count(report, "\n") != 1 || !strings.Contains(report, tc.wantLine) {
				t.Errorf("report %q: want one line containing %q", report, tc.wantLine)
			}
			st, err := store.Verify(snapshot)
			if err != nil {
				t.Fatalf("the written snapshot does not verify: %v", err)
			}
			if st.SLOs != tc.wantSLOs {
				t.Errorf("snapshot holds %d SLOs, want %d", st.SLOs, tc.wantSLOs)
			}
			if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
				t.Errorf("output directory holds %d files, want only the backup", len(entries))
			}
		})
	}
}

func TestRestoreCommand(t *testing.T) {
	src := t.TempDir()
	if err := fillStore(t, src, 4, 3).Close(); err != nil {
		t.Fatal(err)
	}
	snapshot := filepath.Join(t.TempDir(), "snap.db")
	if code, _, stderr := runCmd("backup", "--storage.path", src, "-o", snapshot); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("nope"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		existing string // "", "closed" or "live"
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"into a new directory", "", []string{"-i", snapshot}, 0, "4 SLOs, 3 outbox entries, 1 silences", ""},
		{"over an existing store", "closed", []string{"-i", snapshot}, 1, "", "use --force to replace it"},
		{"over an existing store with --force", "closed", []string{"-i", snapshot, "--force"}, 0, "4 SLOs", ""},
		{"over a live store", "live", []string{"-i", snapshot, "--force"}, 1, "", "is in use by another process"},
		{"a damaged snapshot", "", []string{"-i", garbage}, 1, "", "corrupt"},
		{"a missing snapshot", "", []string{"-i", filepath.Join(t.TempDir(), "absent.db")}, 1, "", "no such file"},
		{"no input", "", nil, 2, "", "-i FILE is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			switch tc.existing {
			case "closed":
				if err := fillStore(t, dir, 1, 0).Close(); err != nil {
					t.Fatal(err)
				}
			case "live":
				defer fillStore(t, dir, 1, 0).Close()
			}
			code, stdout, stderr := runCmd("restore", append([]string{"--storage.path", dir}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, stderr)
			}
			if tc.wantCode != 0 {
				if !strings.Contains(stderr, tc.wantErr) {
					t.Errorf("stderr %q does not contain %q", stderr, tc.wantErr)
				}
				return
			}
			if strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, tc.wantOut) {
				t.Errorf("stdout %q: want one line containing %q", stdout, tc.wantOut)
			}
			s, err := store.Open(dir)
			if err != nil {
				t.Fatalf("opening the restored store: %v", err)
			}
			defer s.Close()
			slos, err := s.SLOs()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := slos["svc/slo-3"]; len(slos) != 4 || !ok {
				t.Errorf("restored store holds %d SLOs, want the 4 of the snapshot", len(slos))
			}
		})
	}
}

// TestBackupRestorePipe backs up to standard output and restores from standard input, as
// `slod backup -o - | ssh host slod restore -i -` would.
func TestBackupRestorePipe(t *testing.T) {
	src := t.TempDir()
	if err := fillStore(t, src, 2, 1).Close(); err != nil {
		t.Fatal(err)
	}
	code, snapshot, stderr := runCmd("backup", "--storage.path", src, "-o", "-")
	if code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	// runRestore reads os.Stdin for "-"; hand it the snapshot through a file for this test.
	in := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(in, []byte(snapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()

	dst := t.TempDir()
	code, stdout, stderr := runCmd("restore", "-i", "-", "--storage.path", dst)
	if code != 0 {
		t.Fatalf("restore: %s", stderr)
	}
	want := fmt.Sprintf("restored standard input into %s: %d bytes, 2 SLOs, 1 outbox entries, 1 silences\n",
		filepath.Join(dst, store.FileName), len(snapshot))
	if stdout != want {
		t.Errorf("restore printed %q, want %q", stdout, want)
	}
}
