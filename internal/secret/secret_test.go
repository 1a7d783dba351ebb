package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecretNeverPrinted(t *testing.T) {
	const value = "s3cr3t-value"
	type holder struct {
		Key     Secret            `json:"key" yaml:"key"`
		Headers map[string]Secret `json:"headers" yaml:"headers"`
	}
	h := holder{Key: value, Headers: map[string]Secret{"Authorization": "Bearer " + value}}
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var logText, logJSON bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("m", "key", h.Key, "holder", h)
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("m", "key", h.Key, "headers", h.Headers)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", h), "%s": fmt.Sprintf("%s", h.Key), "%+v": fmt.Sprintf("%+v", h),
		"%#v": fmt.Sprintf("%#v", h), "json": string(j), "yaml": string(y),
		"slog text": logText.String(), "slog json": logJSON.String(),
	} {
		if strings.Contains(out, value) {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
		if !strings.Contains(out, Mask) && !strings.Contains(out, `\u003csecret\u003e`) {
			t.Errorf("%s does not show the mask: %s", name, out)
		}
	}
	if h.Key.Reveal() != value {
		t.Errorf("Reveal = %q", h.Key.Reveal())
	}
}

func TestEmptySecretPrintsEmpty(t *testing.T) {
	var s Secret
	if s.String() != "" || s.GoString() != `""` {
		t.Errorf("empty secret prints %q / %s", s.String(), s.GoString())
	}
	j, _ := json.Marshal(s)
	if string(j) != `""` {
		t.Errorf("json of empty secret = %s", j)
	}
}
