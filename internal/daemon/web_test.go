package daemon

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// serveHarness starts the harness's daemon (options changed by tweak) on a free loopback port,
// scheduler and dispatcher included, as `slod run` does; it returns host:port. The test's cleanup
// stops it.
func serveHarness(t *testing.T, tweak func(*Options)) (*harness, string) {
	t.Helper()
	h := newHarness(t)
	h.tweak = tweak
	h.restart()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.d.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("slod did not stop within 30s")
		}
	})
	return h, ln.Addr().String()
}

func doRequest(t *testing.T, c *http.Client, method, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWriteEndpointsNeedTheirFlags: POST /-/reload and the backup answer 403 naming their flag
// unless --web.enable-lifecycle and --web.enable-admin-api are given, as in Prometheus.
func TestWriteEndpointsNeedTheirFlags(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("enabled=%v", enabled), func(t *testing.T) {
			_, addr := serveHarness(t, func(o *Options) {
				o.Web.EnableLifecycle, o.Web.EnableAdminAPI = enabled, enabled
			})
			base := "http://" + addr
			code, body := doRequest(t, http.DefaultClient, "POST", base+"/-/reload", nil, "")
			if enabled && (code != 200 || body != "reloaded.\n") {
				t.Errorf("reload with --web.enable-lifecycle: %d %q", code, body)
			}
			if !enabled && (code != 403 || !strings.Contains(body, "--web.enable-lifecycle")) {
				t.Errorf("reload without --web.enable-lifecycle: %d %q, want 403 naming the flag", code, body)
			}
			code, body = doRequest(t, http.DefaultClient, "GET", base+"/api/v1/admin/backup", nil, "")
			if enabled && (code != 200 || len(body) < 4096) {
				t.Errorf("backup with --web.enable-admin-api: %d, %d bytes", code, len(body))
			}
			if !enabled && (code != 403 || !strings.Contains(body, "--web.enable-admin-api")) {
				t.Errorf("backup without --web.enable-admin-api: %d %q, want 403 naming the flag", code, body)
			}
			// Silences stay on: they are how an incident is contained.
			if code, _ := doRequest(t, http.DefaultClient, "GET", base+"/api/v1/silences", nil, ""); code != 200 {
				t.Errorf("silences: %d", code)
			}
		})
	}
}

// writeTLSFiles writes a self-signed certificate for 127.0.0.1 and its key into dir and returns
// a pool that trusts it.
func writeTLSFiles(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "slod test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestWebConfigTLSAndBasicAuth serves slod with an exporter-toolkit web config (TLS and a
// bcrypt user): plain HTTP and unauthenticated requests get nothing from any endpoint, the
// right user gets everything, and a broken web config stops slod at start.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	pool := writeTLSFiles(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webFile := filepath.Join(dir, "web.yml")
	writeFile(t, webFile, fmt.Sprintf("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  alice: %s\n", hash))
	h, addr := serveHarness(t, func(o *Options) {
		o.Web.ConfigFile, o.Web.EnableLifecycle = webFile, true
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	auth := func(user, pass string) map[string]string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pass)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	// Plain HTTP on the TLS port is refused by the TLS server.
	if code, _ := doRequest(t, http.DefaultClient, "GET", "http://"+addr+"/metrics", nil, ""); code != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: %d, want 400", code)
	}
	// A client that does not trust the certificate gets no answer at all.
	if _, err := http.Get("https://" + addr + "/metrics"); err == nil {
		t.Error("a client without the CA got an answer")
	}
	paths := []string{"/metrics", "/api/v1/slos", "/api/v1/silences", "/", "/-/healthy"}
	for _, p := range paths {
		url := "https://" + addr + p
		if code, _ := doRequest(t, client, "GET", url, nil, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", p, code)
		}
		if code, _ := doRequest(t, client, "GET", url, auth("alice", "wrong"), ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: %d, want 401", p, code)
		}
		if code, _ := doRequest(t, client, "GET", url, auth("alice", "s3cret"), ""); code != http.StatusOK {
			t.Errorf("GET %s as alice: %d, want 200", p, code)
		}
	}
	if code, _ := doRequest(t, client, "POST", "https://"+addr+"/-/reload", nil, ""); code != http.StatusUnauthorized {
		t.Errorf("POST /-/reload without credentials: %d, want 401", code)
	}
	if code, _ := doRequest(t, client, "POST", "https://"+addr+"/-/reload", auth("alice", "s3cret"), ""); code != http.StatusOK {
		t.Errorf("POST /-/reload as alice: %d, want 200", code)
	}

	// A web config that does not hold up stops slod at start, naming the file.
	writeFile(t, webFile, "tls_server_config:\n  cert_file: missing.pem\n  key_file: key.pem\n")
	_, err = New(context.Background(), Options{ConfigFile: filepath.Join(h.dir, "slod.yml"), StoragePath: t.TempDir(), Web: WebOptions{ConfigFile: webFile}})
	if err == nil || !strings.Contains(err.Error(), webFile) {
		t.Errorf("New with a broken web config: %v, want an error naming %s", err, webFile)
	}
}

// TestCrossOriginWritesRefused: a browser on another site cannot reload slod or create a
// silence, whatever Content-Type it sends; curl (no Origin) and slod's own origin can.
func TestCrossOriginWritesRefused(t *testing.T) {
	h, addr := serveHarness(t, func(o *Options) { o.Web.EnableLifecycle = true })
	base := "http://" + addr
	silence := fmt.Sprintf(`{"matchers":[{"name":"slo","value":"availability"}],"endsAt":%q,"createdBy":"a","comment":"c"}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	foreign := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		want               int
	}{
		{"cross-site form reload", "POST", "/-/reload", merge(foreign, "Content-Type", "application/x-www-form-urlencoded"), "a=b", 403},
		{"cross-origin reload without Sec-Fetch-Site", "POST", "/-/reload", map[string]string{"Origin": "https://evil.example"}, "", 403},
		{"cross-site text/plain silence", "POST", "/api/v1/silences", merge(foreign, "Content-Type", "text/plain"), silence, 403},
		{"cross-site JSON silence", "POST", "/api/v1/silences", merge(foreign, "Content-Type", "application/json"), silence, 403},
		{"cross-site delete", "DELETE", "/api/v1/silences/x", foreign, "", 403},
		{"same-origin text/plain silence", "POST", "/api/v1/silences", map[string]string{"Origin": base, "Content-Type": "text/plain"}, silence, 415},
		{"curl silence", "POST", "/api/v1/silences", map[string]string{"Content-Type": "application/json"}, silence, 200},
		{"same-origin silence", "POST", "/api/v1/silences", map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, silence, 200},
		{"curl reload", "POST", "/-/reload", nil, "", 200},
		{"cross-site read", "GET", "/api/v1/slos", foreign, "", 200},
		{"body over the limit", "POST", "/api/v1/silences", map[string]string{"Content-Type": "application/json"}, strings.Repeat(" ", 2<<20), 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code, body := doRequest(t, http.DefaultClient, c.method, base+c.path, c.hdr, c.body); code != c.want {
				t.Errorf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.want)
			}
		})
	}
	if n := len(h.d.silences.List()); n != 2 {
		t.Errorf("%d silences stored, want the 2 accepted", n)
	}
}

func merge(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		out[mk] = mv
	}
	return out
}

// closedByServer reports whether the server closes conn before deadline: a read returns EOF or
// a reset instead of timing out. Whatever the server sends before closing is discarded.
func closedByServer(conn net.Conn, deadline time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(deadline))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestServerLimits: a client trickling its body, one idling on a keep-alive connection, and
// connections beyond --web.max-connections. Each assertion is on behaviour (the server closed
// the connection, a request waited for a free slot), with deadlines far beyond the timeouts.
func TestServerLimits(t *testing.T) {
	_, addr := serveHarness(t, func(o *Options) {
		o.Web.ReadTimeout, o.Web.IdleTimeout = time.Second, time.Second
	})

	t.Run("slowloris body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/silences HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", addr)
		stop := make(chan struct{})
		defer close(stop)
		go func() { // a byte every 100ms, as long as the server lets it
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		if !closedByServer(conn, 30*time.Second) {
			t.Error("a connection trickling its body was still open after 30s (read timeout 1s)")
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /-/healthy HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		if !closedByServer(conn, 30*time.Second) {
			t.Error("an idle keep-alive connection was still open after 30s (idle timeout 1s)")
		}
	})

	t.Run("max connections", func(t *testing.T) {
		// The default timeouts: the held connections are not closed by the server meanwhile.
		_, addr := serveHarness(t, func(o *Options) { o.Web.MaxConnections = 2 })
		// Two connections that have sent nothing yet hold both slots.
		var held []net.Conn
		for range 2 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			held = append(held, c)
		}
		time.Sleep(100 * time.Millisecond) // let the server accept them
		client := &http.Client{Timeout: 500 * time.Millisecond}
		if resp, err := client.Get("http://" + addr + "/-/healthy"); err == nil {
			resp.Body.Close()
			t.Fatal("a third connection was served while two held the cap of 2")
		}
		held[0].Close()
		client.Timeout = 30 * time.Second
		resp, err := client.Get("http://" + addr + "/-/healthy")
		if err != nil {
			t.Fatalf("no connection served after a slot was freed: %v", err)
		}
		resp.Body.Close()
	})
}
