package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/slod-dev/slod/internal/store"
)

// writeServerCert writes a self-signed certificate for 127.0.0.1 and its key as cert.pem and
// key.pem into dir.
func writeServerCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slod e2e"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeE2EFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeE2EFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}

// TestBackupThroughWebConfig runs `slod run` behind TLS and basic auth (--web.config.file) and
// takes its snapshot with `slod backup --http.config.file`, as the runbook says; without the
// client config, with a wrong password, or from a slod without --web.enable-admin-api, the backup
// fails with the reason and writes nothing.
func TestBackupThroughWebConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts slod processes")
	}
	prom := &constProm{}
	prom.errShare.Store(0.0)
	promSrv := httptest.NewServer(prom)
	defer promSrv.Close()
	dir := t.TempDir()
	writeServerCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("backup-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeE2EFile(t, filepath.Join(dir, "web.yml"), fmt.Sprintf(
		"tls_server_config: {cert_file: cert.pem, key_file: key.pem}\nbasic_auth_users: {backup: %q}\n", hash))
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	writeE2EFile(t, filepath.Join(dir, "rules", "app.yaml"), fmt.Sprintf(runTestRule, "app"))
	writeE2EFile(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf("prometheus: {url: %q}\nevaluation: {interval: 1s, step: 1s}\nrules: [rules/]\n", promSrv.URL))
	clientCfg := func(password string) string {
		f := filepath.Join(t.TempDir(), "http.yml")
		writeE2EFile(t, f, fmt.Sprintf("basic_auth: {username: backup, password: %q}\ntls_config: {ca_file: %q}\n", password, filepath.Join(dir, "cert.pem")))
		return f
	}
	logPath := filepath.Join(dir, "slod.log")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("slod logs:\n%s", b)
		}
	}()
	p := startSlod(t, filepath.Join(dir, "slod.yml"), filepath.Join(dir, "data"), logPath,
		"--web.config.file", filepath.Join(dir, "web.yml"), "--web.enable-admin-api")
	webURL := strings.Replace(p.url, "http://", "https://", 1)
	backup := func(extra ...string) (int, string, string, string) {
		out := filepath.Join(t.TempDir(), "slod.db")
		code, stdout, stderr := runCmd("backup", append([]string{"--storage.path", filepath.Join(dir, "data"), "-o", out, "--web.url", webURL}, extra...)...)
		return code, stdout, stderr, out
	}
	good := clientCfg("backup-pw")
	var code int
	var stdout, stderr, out string
	waitUntil(t, "a backup through TLS and basic auth", 30*time.Second, func() bool {
		code, stdout, stderr, out = backup("--http.config.file", good)
		return code == 0
	})
	if !strings.Contains(stdout, "from the running slod at "+webURL) {
		t.Errorf("backup reported %q", stdout)
	}
	if _, err := store.Verify(out); err != nil {
		t.Errorf("the snapshot does not verify: %v", err)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no client config", nil, "certificate"},
		{"wrong password", []string{"--http.config.file", clientCfg("nope")}, "401 Unauthorized"},
		{"missing client config", []string{"--http.config.file", filepath.Join(dir, "none.yml")}, "none.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr, out := backup(tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.wantErr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed backup wrote its output")
			}
		})
	}

	// Without --web.enable-admin-api the running slod refuses, and says how to enable it.
	p.stop(t, syscall.SIGTERM)
	p = startSlod(t, filepath.Join(dir, "slod.yml"), filepath.Join(dir, "data"), logPath, "--web.config.file", filepath.Join(dir, "web.yml"))
	webURL = strings.Replace(p.url, "http://", "https://", 1)
	waitUntil(t, "slod refusing the backup", 30*time.Second, func() bool {
		code, _, stderr, _ = backup("--http.config.file", good)
		return code == 1 && strings.Contains(stderr, "403 Forbidden")
	})
	if !strings.Contains(stderr, "--web.enable-admin-api") {
		t.Errorf("refusal %q does not name --web.enable-admin-api", stderr)
	}
}
