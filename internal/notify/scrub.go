package notify

import (
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/slod-dev/slod/internal/secret"
)

// minSecretPart is the shortest piece of a secret that is scrubbed on its own (the token after
// "Bearer ", say). Shorter pieces would blank out ordinary words of an error message.
const minSecretPart = 4

// requestSecrets lists what a request to target with headers carries that must not be echoed
// back into a log line or the outbox's LastError: every header value (configured header values
// are secrets), the token after a scheme such as "Bearer ", and the URL's password, query and
// path (webhook URLs of chat tools carry their token in the path).
func requestSecrets(target string, headers map[string]secret.Secret) []string {
	var out []string
	add := func(s string, whole bool) {
		if s != "" && (whole || len(s) >= minSecretPart) {
			out = append(out, s)
		}
	}
	for _, v := range headers {
		add(v.Reveal(), true)
		if _, token, ok := strings.Cut(v.Reveal(), " "); ok {
			add(strings.TrimSpace(token), false)
		}
	}
	if u, err := url.Parse(target); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p, true)
		}
		add(u.RawQuery, false)
		if len(strings.Trim(u.Path, "/")) >= minSecretPart {
			add(u.Path, false)
		}
	}
	return out
}

// scrubSecrets replaces every secret in s, as written or as JSON would escape it (a receiver
// that echoes the request back as JSON writes "\/" or "\u0026"), with "<secret>". Longer secrets
// go first, so that a secret containing another is replaced whole.
func scrubSecrets(s string, secrets []string) string {
	var forms []string
	for _, sec := range secrets {
		forms = append(forms, sec)
		if b, err := json.Marshal(sec); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != sec {
				forms = append(forms, esc)
			}
		}
		if esc := strings.ReplaceAll(sec, "/", `\/`); esc != sec {
			forms = append(forms, esc)
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, secret.Mask)
	}
	return s
}

// readScrubbed reads at most about limit bytes of r with every secret scrubbed. It reads as much
// again as the longest secret beyond the limit before scrubbing, so that a secret straddling the
// limit is replaced whole rather than leaving its first part behind.
func readScrubbed(r io.Reader, limit int, secrets []string) string {
	slack := 0
	for _, s := range secrets {
		slack = max(slack, 6*len(s)) // a JSON escape is at most 6 bytes per byte (\u00XX)
	}
	b, _ := io.ReadAll(io.LimitReader(r, int64(limit+slack)))
	s := scrubSecrets(string(b), secrets)
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "")
	}
	return strings.TrimSpace(s)
}
