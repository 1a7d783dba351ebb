package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runConvertCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"convert"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestConvertRoundTrip converts the shipped SLOs (slod/v1 and Sloth) to OpenSLO and back to
// slod/v1, and the OpenSLO example to slod/v1: every file written loads, and slod check reports
// the same on the shipped recording, entry by entry (grouped SLOs' groups included).
func TestConvertRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   string
		steps []string // the formats to convert to, in turn
	}{
		{"slod/v1 and Sloth → OpenSLO → slod/v1", "../../rules/", []string{"openslo", "slod"}},
		{"OpenSLO → slod/v1 → OpenSLO", "../../examples/openslo/", []string{"slod", "openslo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := checkEntries(t, tc.src)
			src := tc.src
			for _, to := range tc.steps {
				out := t.TempDir()
				if code, _, stderr := runConvertCmd("--to", to, "-o", out, src); code != 0 {
					t.Fatalf("convert --to %s %s: exit %d\n%s", to, src, code, stderr)
				}
				if got := checkEntries(t, out); !reflect.DeepEqual(got, want) {
					t.Errorf("after --to %s: the report differs:\n got %v\nwant %v", to, got, want)
				}
				src = out
			}
		})
	}
}

// TestConvertComments: the comments on an SLO and on its fields are carried over, both ways.
func TestConvertComments(t *testing.T) {
	code, out, stderr := runConvertCmd("--to", "openslo", "../../rules/chat-api.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"# Written by slod convert from ../../rules/chat-api.yaml.\napiVersion: openslo/v1\nkind: Service\n",
		"# p95: 95% of chat requests complete within 1 s. Requests slower than that are bad events.\napiVersion: openslo/v1\nkind: SLO\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, stderr = runConvertCmd("--to", "slod", "../../examples/openslo/chat-api.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"  # Bad events over all events. counter: true gives the counters themselves: slod takes their exact\n",
		"# Good events over all events", // the SLI's comment is not the SLO's: not carried
	} {
		if strings.Contains(out, want) != (want[0] == ' ') {
			t.Errorf("output with %q wrong:\n%s", want, out)
		}
	}
}

func TestConvertArgs(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "chat-api.yaml")
	if err := os.WriteFile(existing, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{"no --to", []string{"../../rules/chat-api.yaml"}, 2, "", []string{"--to must be openslo or slod", "usage: slod convert"}},
		{"unknown format", []string{"--to", "pyrra", "../../rules/chat-api.yaml"}, 2, "", []string{`not "pyrra"`}},
		{"no RULES", []string{"--to", "slod"}, 2, "", []string{"no RULES given"}},
		{"several services need -o", []string{"--to", "slod", "../../rules/"}, 1, "",
			[]string{"the SLOs are of 4 services (chat-api, model-gateway, model-server, embeddings): give -o DIR"}},
		{"a file that exists is not replaced", []string{"--to", "openslo", "-o", dir, "../../rules/chat-api.yaml"}, 1, "",
			[]string{existing + " exists: not replacing it"}},
		{"invalid rules", []string{"--to", "openslo", "testdata/check/bad.yaml"}, 1, "", []string{"testdata/check/bad.yaml:"}},
		{"one service to stdout", []string{"../../rules/model-server.yaml", "--to", "slod"}, 0,
			"# Written by slod convert from ../../rules/model-server.yaml.\nversion: slod/v1\nservice: model-server\n", nil},
		{"what OpenSLO has no place for is a warning", []string{"--to", "openslo", "../../rules/chat-api.yaml"}, 0, "",
			[]string{"slod convert: warning: chat-api/availability (../../rules/chat-api.yaml:7:5): alerting labels and annotations have no place in OpenSLO: left out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runConvertCmd(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			if !strings.HasPrefix(stdout, tc.wantStdout) {
				t.Errorf("stdout starts %q, want %q", stdout[:min(len(stdout), 200)], tc.wantStdout)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	if data, _ := os.ReadFile(existing); string(data) != "mine\n" {
		t.Errorf("the existing file was changed: %q", data)
	}
}
