package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/slod-dev/slod/internal/daemon"
)

const runUsage = `usage: slod run --config.file slod.yml [flags]

Evaluate the SLOs of the config's rule files against Prometheus on a schedule and page on
multiwindow multi-burn-rate alerts. SIGHUP or POST /-/reload re-reads config and rules.

Flags:
`

func init() {
	register("run", "evaluate SLOs against Prometheus and page (the daemon)", runRun)
}

type runArgs struct {
	configFile    string
	listenAddress string
	storagePath   string
	logLevel      string
	logFormat     string
	externalURL   string
}

func parseRunArgs(args []string, stderr io.Writer) (runArgs, error) {
	var a runArgs
	fs := newFlagSet("run", runUsage, stderr)
	fs.StringVar(&a.configFile, "config.file", "slod.yml", "daemon configuration file")
	fs.StringVar(&a.listenAddress, "web.listen-address", ":9099", "address of the HTTP server (metrics, API, status page)")
	fs.StringVar(&a.storagePath, "storage.path", "data/", "directory of the state store")
	fs.StringVar(&a.logLevel, "log.level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&a.logFormat, "log.format", "logfmt", "log format: logfmt or json")
	fs.StringVar(&a.externalURL, "web.external-url", "", "URL under which slod is reachable (links in notifications); overrides web.external_url")
	if err := parseFlagsOnly(fs, args); err != nil {
		return a, err
	}
	if a.logFormat != "logfmt" && a.logFormat != "json" {
		return a, usageError(fs, fmt.Errorf("--log.format must be logfmt or json, not %q", a.logFormat))
	}
	if _, err := parseLevel(a.logLevel); err != nil {
		return a, usageError(fs, err)
	}
	return a, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log.level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// newLogger returns the process logger: logfmt is slog's TextHandler (key=value pairs).
func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runRun(args []string, _, stderr io.Writer) int {
	a, err := parseRunArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	log := newLogger(stderr, a.logFormat, a.logLevel)

	// Signals become a context and a reload channel here, and nowhere else.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()

	d, err := daemon.New(ctx, daemon.Options{
		ConfigFile:    a.configFile,
		ListenAddress: a.listenAddress,
		StoragePath:   a.storagePath,
		ExternalURL:   a.externalURL,
		Logger:        log,
		Version:       version,
		Revision:      revision,
		Reload:        reload,
	})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("starting slod", "version", version, "revision", revision)
	if err := d.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
