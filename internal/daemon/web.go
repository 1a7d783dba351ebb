package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/net/netutil"
)

// WebOptions configure slod's HTTP server: the --web.* flags of slod run, named and defaulted as
// Prometheus's.
type WebOptions struct {
	// ConfigFile is a web config file in the exporter-toolkit format (tls_server_config,
	// basic_auth_users, http_server_config), as Prometheus and Alertmanager read with
	// --web.config.file; every endpoint is behind it. "" serves plain HTTP without authentication.
	ConfigFile string
	// EnableLifecycle mounts POST /-/reload (403 otherwise), as Prometheus's --web.enable-lifecycle.
	EnableLifecycle bool
	// EnableAdminAPI mounts the admin endpoints (GET /api/v1/admin/backup; 403 otherwise), as
	// Prometheus's --web.enable-admin-api.
	EnableAdminAPI bool
	// ReadTimeout bounds reading a whole request, body included (default 1m); WriteTimeout writing
	// its response (default 1m; the backup lifts it); IdleTimeout how long a keep-alive
	// connection waits for its next request (default 1m).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnections is the most connections served at once (default 512); more wait to be
	// accepted.
	MaxConnections int
}

// Defaults of WebOptions. Prometheus's --web.read-timeout is 5m, for remote-write bodies; slod's
// requests are a few kilobytes, so a minute leaves a slow client plenty while a client that sends
// a byte every few seconds is cut off soon. 512 is Prometheus's --web.max-connections.
const (
	DefaultWebReadTimeout    = time.Minute
	DefaultWebWriteTimeout   = time.Minute
	DefaultWebIdleTimeout    = time.Minute
	DefaultWebMaxConnections = 512
	// readHeaderTimeout bounds the request line and headers, whatever ReadTimeout says.
	readHeaderTimeout = 10 * time.Second
	// maxRequestBody bounds the body of any request; endpoints set tighter bounds of their own
	// (a silence: 64 KiB).
	maxRequestBody = 1 << 20
)

func (o WebOptions) withDefaults() WebOptions {
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultWebReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWebWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultWebIdleTimeout
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultWebMaxConnections
	}
	return o
}

// validateWebConfig reads the web config file as the server will (TLS files included), so that a
// mistake stops slod at start instead of failing every request.
func validateWebConfig(file string) error {
	if file == "" {
		return nil
	}
	if err := web.Validate(file); err != nil {
		return fmt.Errorf("web config file %s: %w", file, err)
	}
	return nil
}

// newServer is the HTTP server of slod run, with the limits of opt.Web.
func (d *Daemon) newServer() *http.Server {
	o := d.opt.Web
	return &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: min(readHeaderTimeout, o.ReadTimeout),
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.With("component", "web").Handler(), slog.LevelWarn),
	}
}

// serveHTTP serves srv on ln, at most MaxConnections at a time, with TLS and basic auth as the
// web config file says (exporter-toolkit re-reads it on every request and TLS handshake, so
// users and certificates change without a restart).
func (d *Daemon) serveHTTP(srv *http.Server, ln net.Listener) error {
	ln = netutil.LimitListener(ln, d.opt.Web.MaxConnections)
	systemd := false
	addr := []string{ln.Addr().String()}
	return web.Serve(ln, srv, &web.FlagConfig{
		WebListenAddresses: &addr,
		WebSystemdSocket:   &systemd,
		WebConfigFile:      &d.opt.Web.ConfigFile,
	}, d.log.With("component", "web"))
}

// guard wraps every endpoint: no body beyond maxRequestBody, and no cross-origin write. A page
// on another site can make a browser POST a form or text/plain body to slod without a CORS
// preflight (reload, create a silence); http.CrossOriginProtection refuses such requests by their
// Sec-Fetch-Site or Origin header, while curl and other non-browser clients, which send neither,
// pass.
func guard(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "cross-origin request refused: slod accepts writes only from its own origin", http.StatusForbidden)
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		h.ServeHTTP(w, r)
	}))
}

// forbidden answers endpoints that a flag must enable, as Prometheus does.
func forbidden(msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, msg, http.StatusForbidden)
	}
}

// noWriteDeadline lifts the server's WriteTimeout for a response that legitimately takes long
// (a backup of a large store over a slow port-forward); the client still bounds it.
func noWriteDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}
