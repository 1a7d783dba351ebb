package promapi

import (
	"bufio"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// newRoundTripper builds the transport for the query API: TLS from the config, the authentication
// and the configured headers on every request, and gzip-compressed responses.
//
// prometheus/common/config has the same round trippers, but pulling it in would add
// golang.org/x/oauth2 to the module for a feature slod does not offer; what slod needs is small.
func newRoundTripper(cfg Config, userAgent string) (http.RoundTripper, error) {
	tlsCfg, err := newTLSConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	// Every SLO query goes to the same host; keep enough idle connections for the concurrency
	// bound so that a cycle does not open and close connections per query.
	n := max(cfg.MaxConcurrentQueries, DefaultMaxConcurrentQueries)
	tr.MaxIdleConnsPerHost = n
	tr.MaxIdleConns = 2 * n
	tr.IdleConnTimeout = 5 * time.Minute
	if userAgent == "" {
		userAgent = "slod"
	}
	a := &authRoundTripper{headers: cfg.Headers, userAgent: userAgent, next: &gzipRoundTripper{next: tr}}
	switch {
	case cfg.BearerToken != "":
		a.bearer = staticSecret(cfg.BearerToken.Reveal())
	case cfg.BearerTokenFile != "":
		a.bearer = fileSecret(cfg.BearerTokenFile)
	}
	if ba := cfg.BasicAuth; ba != nil {
		a.username = ba.Username
		switch {
		case ba.PasswordFile != "":
			a.password = fileSecret(ba.PasswordFile)
		default:
			a.password = staticSecret(ba.Password.Reveal())
		}
	}
	return a, nil
}

func newTLSConfig(c TLSConfig) (*tls.Config, error) {
	t := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify, ServerName: c.ServerName, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in from config
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading tls_config.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_config.ca_file %s holds no PEM certificate", c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		// Read on every handshake, so that a renewed client certificate is used without a reload.
		certFile, keyFile := c.CertFile, c.KeyFile
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return nil, fmt.Errorf("loading tls_config client certificate: %w", err)
		}
		t.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("loading tls_config client certificate: %w", err)
			}
			return &cert, nil
		}
	}
	return t, nil
}

// secretSource yields a credential at request time.
type secretSource func() (string, error)

func staticSecret(v string) secretSource { return func() (string, error) { return v, nil } }

// fileSecret re-reads the file on every request: tokens mounted from Kubernetes secrets rotate
// under a running process, and a reload should not be needed to follow them.
func fileSecret(path string) secretSource {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading credentials file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("credentials file %s is empty", path)
		}
		return v, nil
	}
}

// authRoundTripper sets authentication, headers and the user agent on every request.
type authRoundTripper struct {
	headers   map[string]string
	userAgent string
	bearer    secretSource
	username  string
	password  secretSource
	next      http.RoundTripper
}

var errNoCredentials = errors.New("no credentials")

// RoundTrip sends req with the headers and current credentials; req itself is not modified,
// as http.RoundTripper requires.
func (a *authRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range a.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", a.userAgent)
	if a.bearer != nil {
		tok, err := a.bearer()
		if err != nil {
			return nil, fmt.Errorf("bearer token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if a.password != nil {
		pw, err := a.password()
		if err != nil {
			return nil, fmt.Errorf("basic auth password: %w", err)
		}
		req.SetBasicAuth(a.username, pw)
	}
	return a.next.RoundTrip(req)
}

// gzipRoundTripper asks for gzip itself (which turns off the transport's transparent
// decompression) and decompresses with pooled readers: net/http's allocates a 4 KiB buffer per
// response, which for a daemon sending two small queries per SLO per cycle was a sixth of what a
// cycle allocated. It sets the request's Accept-Encoding, so it must be given a request its caller
// owns: it sits behind authRoundTripper, which clones every request.
type gzipRoundTripper struct {
	next http.RoundTripper
}

// RoundTrip sends req asking for gzip and decompresses the response body.
func (g *gzipRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	ask := req.Header.Get("Accept-Encoding") == "" && req.Method != http.MethodHead
	if ask {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil || !ask || !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		return resp, err
	}
	resp.Body = &gzipBody{body: resp.Body}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	return resp, nil
}

// gzipReaders are reused gzip readers, each with the buffered reader it reads through (a
// flate.Reader, so that gzip.Reader.Reset does not allocate one of its own).
var gzipReaders sync.Pool

type gzipReader struct {
	buf *bufio.Reader
	z   gzip.Reader
}

// gzipBody decompresses a response body with a pooled reader, taken at the first Read and given
// back at Close.
type gzipBody struct {
	mu   sync.Mutex
	body io.ReadCloser
	r    *gzipReader
	err  error // sticky: a failed header, or the body closed
}

var errBodyClosed = errors.New("http: read on closed response body")

// Read reads decompressed bytes.
func (b *gzipBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.r == nil {
		r, _ := gzipReaders.Get().(*gzipReader)
		if r == nil {
			r = &gzipReader{buf: bufio.NewReader(b.body)}
		} else {
			r.buf.Reset(b.body)
		}
		if err := r.z.Reset(r.buf); err != nil {
			r.buf.Reset(nil)
			gzipReaders.Put(r)
			b.err = err
			return 0, err
		}
		b.r = r
	}
	return b.r.z.Read(p)
}

// Close closes the body and returns the reader to the pool.
func (b *gzipBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r != nil {
		b.r.buf.Reset(nil)
		gzipReaders.Put(b.r)
		b.r = nil
	}
	b.err = errBodyClosed
	return b.body.Close()
}
