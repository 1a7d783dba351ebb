package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
)

// echoServer answers every request with status and a body that echoes the request's headers,
// URL and body, as some proxies and debugging endpoints do; as JSON when asJSON is set.
func echoServer(t *testing.T, status int, asJSON bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		if asJSON {
			json.NewEncoder(w).Encode(map[string]any{"error": "bad", "headers": r.Header, "url": r.URL.String(), "request": string(body)})
			return
		}
		fmt.Fprintf(w, "error: bad request to %s\n", r.URL)
		for k, v := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(v, ","))
		}
		// An echo long enough that the headers come again right at the receiver's read limit.
		fmt.Fprintf(w, "%s%s\n", strings.Repeat(".", maxErrorBody-20), r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestReceiverErrorsScrubSecrets: whatever a webhook or Alertmanager receiver echoes back in an
// error body, the configured header values, URL password and URL token never reach the error
// (what the dispatcher logs and stores as the outbox entry's LastError).
func TestReceiverErrorsScrubSecrets(t *testing.T) {
	const (
		bearer = "Bearer tok/en+abc&123"
		apiKey = "k3y-value-42"
		pass   = "pa55word"
		token  = "T000/B000/XXXXSECRETPATH"
	)
	secrets := []string{bearer, "tok/en+abc&123", apiKey, pass, token}
	for _, status := range []int{400, 500} {
		for _, asJSON := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d json=%v", status, asJSON), func(t *testing.T) {
				srv := echoServer(t, status, asJSON)
				u := strings.Replace(srv.URL, "http://", "http://user:"+pass+"@", 1)
				hook, err := NewWebhook("audit", &receiver.WebhookConfig{URL: u + "/services/" + token + "?sig=" + apiKey,
					Headers: map[string]secret.Secret{"Authorization": bearer, "X-Api-Key": apiKey}}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				am, err := NewAlertmanager("tickets", &receiver.AlertmanagerConfig{URL: u}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				for name, n := range map[string]Notifier{"webhook": hook, "alertmanager": am} {
					_, err := n.Notify(context.Background(), sampleNotification(Trigger))
					if err == nil {
						t.Fatalf("%s: HTTP %d accepted", name, status)
					}
					msg := err.Error()
					for _, s := range secrets {
						if strings.Contains(msg, s) {
							t.Errorf("%s error reveals %q:\n%s", name, s, msg)
						}
					}
					if name == "webhook" && !strings.Contains(msg, secret.Mask) {
						t.Errorf("%s error shows no %s where the echo was:\n%s", name, secret.Mask, msg)
					}
				}
			})
		}
	}
}

// TestScrubSecretsAtTheReadLimit: a secret that straddles the limit of what is kept of an error
// body is replaced whole, not cut so that its first part survives.
func TestScrubSecretsAtTheReadLimit(t *testing.T) {
	secret := "0123456789-secret-value"
	for cut := 1; cut < len(secret); cut++ {
		body := strings.Repeat("x", maxErrorBody-cut) + secret + " tail"
		got := readScrubbed(strings.NewReader(body), maxErrorBody, []string{secret})
		if cut >= minSecretPart && strings.Contains(got, secret[:cut]) {
			t.Errorf("cut %d: the secret's first %d bytes remain: ...%s", cut, cut, got[len(got)-30:])
		}
		if len(got) > maxErrorBody {
			t.Errorf("cut %d: %d bytes kept, limit %d", cut, len(got), maxErrorBody)
		}
	}
}
