package main

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/slod-dev/slod/internal/config"
)

// TestREADMEDocumentsEveryFlag: every flag of every command (as its --help lists it) and every key
// of the daemon config's own sections is in the README, so that a user finds them there.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flagLine := regexp.MustCompile(`(?m)^  -([a-z][a-z0-9.-]*)`)
	for name := range commands {
		var stdout, stderr bytes.Buffer
		run([]string{name, "--help"}, &stdout, &stderr)
		for _, m := range flagLine.FindAllStringSubmatch(stderr.String(), -1) {
			flag := "-" + m[1]
			if len(m[1]) > 1 {
				flag = "--" + m[1]
			}
			if !bytes.Contains(readme, []byte(flag)) {
				t.Errorf("slod %s %s is not in the README", name, flag)
			}
		}
	}
	for _, section := range []any{config.PrometheusConfig{}, config.EvaluationConfig{}, config.WebConfig{}, config.TLSConfig{}, config.BasicAuth{}} {
		typ := reflect.TypeOf(section)
		for i := range typ.NumField() {
			key, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			if key != "" && key != "-" && !regexp.MustCompile(`\b`+key+`\b`).Match(readme) {
				t.Errorf("the config key %s of %s is not in the README", key, typ.Name())
			}
		}
	}
}
