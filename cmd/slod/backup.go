package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/slod-dev/slod/internal/store"
)

func init() {
	register("backup", "write a consistent snapshot of the state store (also while slod runs)", runBackup)
}

const backupUsage = `usage: slod backup [--storage.path DIR] -o FILE [--web.url URL] [--http.config.file FILE]

Writes a consistent snapshot of the state store DIR/slod.db (SLI history, alert state, outbox,
silences) to FILE ("-" for standard output). When no slod is running, the store is read directly.
While slod runs it holds the store's lock, so the snapshot is taken by the running slod instead:
GET --web.url/api/v1/admin/backup; so it is too when --web.url is given and DIR is not on this
machine (slod runs elsewhere, e.g. behind kubectl port-forward). Either way the snapshot is verified (it opens, its records
decode, bbolt's consistency check passes) before FILE is written, through a temporary file and a
rename, so FILE is never a partial copy.

The running slod serves the snapshot only with --web.enable-admin-api. When it is behind a web
config (TLS, basic auth: slod run --web.config.file), give --http.config.file: a YAML file in
Prometheus's HTTP client format, as promtool's, e.g.

  basic_auth: {username: backup, password_file: /etc/slod/backup-password}
  tls_config: {ca_file: /etc/slod/ca.pem}

Restore it with: slod restore -i FILE --storage.path DIR

Flags:
`

// backupDefaultWebURL is where `slod run` listens by default (--web.listen-address :9099).
const backupDefaultWebURL = "http://127.0.0.1:9099"

// backupPath is the daemon's endpoint serving a snapshot of its store (internal/daemon/api.go).
const backupPath = "/api/v1/admin/backup"

type backupArgs struct {
	storagePath string
	output      string
	webURL      string
	// webURLSet is true when --web.url was given: then a store that is not on this machine (slod
	// runs elsewhere, e.g. in a pod) is read through that slod too.
	webURLSet bool
	timeout   time.Duration
	// httpConfig is a prometheus/common HTTP client config file (basic auth, TLS) for --web.url.
	httpConfig string
}

func parseBackupArgs(args []string, stderr io.Writer) (backupArgs, error) {
	var a backupArgs
	fs := newFlagSet("backup", backupUsage, stderr)
	fs.StringVar(&a.storagePath, "storage.path", "data/", "directory of the state store (as given to slod run)")
	fs.StringVar(&a.output, "o", "", `output file, "-" for standard output (required)`)
	fs.StringVar(&a.webURL, "web.url", backupDefaultWebURL, "base URL of the running slod, used when it holds the store (or, when given, when DIR is not here)")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Minute, "give up on the running slod's snapshot after this long")
	fs.StringVar(&a.httpConfig, "http.config.file", "", "HTTP client config (basic_auth, authorization, tls_config) for --web.url, in Prometheus's format")
	if err := parseFlagsOnly(fs, args); err != nil {
		return a, err
	}
	fs.Visit(func(f *flag.Flag) { a.webURLSet = a.webURLSet || f.Name == "web.url" })
	var err error
	switch {
	case a.output == "":
		err = errors.New("-o FILE is required")
	case a.timeout <= 0:
		err = errors.New("--timeout must be positive")
	}
	if err == nil {
		_, err = url.Parse(a.webURL)
	}
	if err != nil {
		return a, usageError(fs, err)
	}
	return a, nil
}

func runBackup(args []string, stdout, stderr io.Writer) int {
	a, err := parseBackupArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()

	line, err := backup(ctx, a, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "slod backup: %v\n", err)
		return 1
	}
	// With -o - standard output carries the snapshot itself.
	report := stdout
	if a.output == "-" {
		report = stderr
	}
	fmt.Fprintln(report, line)
	return 0
}

// backup writes the snapshot and returns the line describing what it did.
func backup(ctx context.Context, a backupArgs, stdout io.Writer) (string, error) {
	tmp, err := backupTempFile(a.output)
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once renamed into place

	var source string
	s, err := store.OpenReadOnly(a.storagePath)
	switch {
	case err == nil:
		source = s.Path()
		_, err = s.Backup(tmp)
		if cerr := s.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			err = fmt.Errorf("copying the store: %w", err)
		}
	case errors.Is(err, store.ErrLocked), errors.Is(err, fs.ErrNotExist) && a.webURLSet:
		storePath := filepath.Join(a.storagePath, store.FileName)
		why := storePath + " is held by a running slod"
		if !errors.Is(err, store.ErrLocked) {
			why = storePath + " is not on this machine"
		}
		var from string
		from, err = backupFromDaemon(ctx, a, tmp)
		if err != nil {
			err = fmt.Errorf("%s, and asking the slod at --web.url for the snapshot failed: %w", why, err)
		}
		source = storePath + " from the running slod at " + from
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	st, err := store.Verify(tmpName)
	if err != nil {
		return "", fmt.Errorf("the snapshot of %s failed verification, nothing written: %w", source, err)
	}

	dest := a.output
	if a.output == "-" {
		dest = "standard output"
		f, err := os.Open(tmpName)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(stdout, f); err != nil {
			return "", fmt.Errorf("writing the snapshot to standard output: %w", err)
		}
	} else if err := os.Rename(tmpName, a.output); err != nil {
		return "", fmt.Errorf("moving the snapshot into place: %w", err)
	}
	return fmt.Sprintf("backed up %s to %s: %d bytes, %d SLOs, %d outbox entries, %d silences",
		source, dest, st.Bytes, st.SLOs, st.Outbox, st.Silences), nil
}

// backupTempFile creates the file the snapshot is written to before verification: next to the
// output, so that the final rename stays on one file system, or in the temporary directory when
// the snapshot goes to standard output.
func backupTempFile(output string) (*os.File, error) {
	dir, pattern := os.TempDir(), "slod-backup-*.db"
	if output != "-" {
		dir, pattern = filepath.Dir(output), "."+filepath.Base(output)+".tmp-*"
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file for the snapshot: %w", err)
	}
	return f, nil
}

// backupClient is the HTTP client for --web.url: http.DefaultClient, or the one --http.config.file
// describes.
func backupClient(file string) (*http.Client, error) {
	if file == "" {
		return http.DefaultClient, nil
	}
	cfg, _, err := promconfig.LoadHTTPConfigFile(file)
	if err != nil {
		return nil, fmt.Errorf("--http.config.file %s: %w", file, err)
	}
	c, err := promconfig.NewClientFromConfig(*cfg, "slod-backup")
	if err != nil {
		return nil, fmt.Errorf("--http.config.file %s: %w", file, err)
	}
	return c, nil
}

// backupFromDaemon streams the running slod's snapshot into w and returns the URL it used
// (without any password). The handler sends the exact Content-Length, so a cut-off transfer is an error here.
func backupFromDaemon(ctx context.Context, a backupArgs, w io.Writer) (string, error) {
	client, err := backupClient(a.httpConfig)
	if err != nil {
		return "", err
	}
	u, err := url.JoinPath(a.webURL, backupPath)
	if err != nil {
		return "", fmt.Errorf("building the backup URL from --web.url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("building the backup request: %w", err)
	}
	shown := req.URL.Redacted()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting the snapshot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		// slod's API answers errors as {"status": "error", "error": "..."}; a proxy may not.
		var apiErr struct{ Error string }
		if json.Unmarshal(msg, &apiErr) == nil && apiErr.Error != "" {
			msg = []byte(apiErr.Error)
		}
		return "", fmt.Errorf("GET %s: %s: %s", shown, resp.Status, bytes.TrimSpace(msg))
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return "", fmt.Errorf("receiving the snapshot from %s after %d bytes: %w", shown, n, err)
	}
	return shown, nil
}
