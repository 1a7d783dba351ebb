package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/slod-dev/slod/internal/daemon"
	"github.com/slod-dev/slod/internal/notify"
)

const runUsage = `usage: slod run --config.file slod.yml [flags]

Evaluate the SLOs of the config's rule files against Prometheus on a schedule and page on
multiwindow multi-burn-rate alerts. SIGHUP, POST /-/reload (with --web.enable-lifecycle) or a
change seen by --config.auto-reload-interval re-reads config and rules.

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
	web           daemon.WebOptions
	silences      notify.SilenceLimits
	autoReload    time.Duration
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
	addWebFlags(fs, &a)
	if err := parseFlagsOnly(fs, args); err != nil {
		return a, err
	}
	if err := checkWebFlags(a); err != nil {
		return a, usageError(fs, err)
	}
	if a.logFormat != "logfmt" && a.logFormat != "json" {
		return a, usageError(fs, fmt.Errorf("--log.format must be logfmt or json, not %q", a.logFormat))
	}
	if _, err := parseLevel(a.logLevel); err != nil {
		return a, usageError(fs, err)
	}
	return a, nil
}

// addWebFlags defines the flags of the HTTP server, named and defaulted as Prometheus's where it
// has one, and of the silences API's bounds.
func addWebFlags(fs *flag.FlagSet, a *runArgs) {
	a.web = daemon.WebOptions{ReadTimeout: daemon.DefaultWebReadTimeout, WriteTimeout: daemon.DefaultWebWriteTimeout,
		IdleTimeout: daemon.DefaultWebIdleTimeout, MaxConnections: daemon.DefaultWebMaxConnections}
	a.silences = notify.DefaultSilenceLimits
	fs.StringVar(&a.web.ConfigFile, "web.config.file", "", "web config file (exporter-toolkit format, as Prometheus's) enabling TLS and basic auth on every endpoint")
	fs.BoolVar(&a.web.EnableLifecycle, "web.enable-lifecycle", false, "enable POST /-/reload")
	fs.BoolVar(&a.web.EnableAdminAPI, "web.enable-admin-api", false, "enable the admin endpoints (GET /api/v1/admin/backup: the whole store)")
	fs.Var(promDurationValue{&a.web.ReadTimeout}, "web.read-timeout", "maximum time to read a request, body included")
	fs.Var(promDurationValue{&a.web.WriteTimeout}, "web.write-timeout", "maximum time to write a response (the backup is exempt)")
	fs.Var(promDurationValue{&a.web.IdleTimeout}, "web.idle-timeout", "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&a.web.MaxConnections, "web.max-connections", a.web.MaxConnections, "maximum number of simultaneous connections")
	fs.IntVar(&a.silences.MaxSilences, "silences.max-silences", a.silences.MaxSilences, "maximum number of active and pending silences")
	fs.Var(promDurationValue{&a.silences.MaxAhead}, "silences.max-ahead", "latest end a silence may have, from now")
	fs.Var(promDurationValue{&a.autoReload}, "config.auto-reload-interval", "check the config and rule files this often and reload when they change (0: never)")
}

func checkWebFlags(a runArgs) error {
	for name, d := range map[string]time.Duration{"web.read-timeout": a.web.ReadTimeout, "web.write-timeout": a.web.WriteTimeout,
		"web.idle-timeout": a.web.IdleTimeout, "silences.max-ahead": a.silences.MaxAhead} {
		if d <= 0 {
			return fmt.Errorf("--%s must be positive", name)
		}
	}
	switch {
	case a.web.MaxConnections <= 0:
		return errors.New("--web.max-connections must be positive")
	case a.silences.MaxSilences <= 0:
		return errors.New("--silences.max-silences must be positive")
	case a.autoReload < 0:
		return errors.New("--config.auto-reload-interval must not be negative")
	case a.autoReload > 0 && a.autoReload < time.Second:
		return errors.New("--config.auto-reload-interval must be at least 1s")
	}
	return nil
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
		Web:           a.web,
		Silences:      a.silences,
		AutoReload:    a.autoReload,
		Logger:        log,
		Version:       version,
		Revision:      revision,
		Reload:        reload,
	})
	if err != nil {
		// Every problem of the config and the rules, one per line, all at once.
		daemon.LogErrors(log, "cannot start", err)
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
