package promapi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the query client a client: it takes its own Config, so it must not pull
// in the config loader, the receivers or the store (nor what they bring: bbolt, go-pagerduty).
// Anything that embeds promapi (slod record, a test) then builds without them.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages; the check would prove nothing:\n%s", len(deps), out)
	}
	forbidden := []string{
		"go.etcd.io/bbolt",
		"github.com/PagerDuty/go-pagerduty",
		"github.com/slod-dev/slod/internal/notify",
		"github.com/slod-dev/slod/internal/store",
		"github.com/slod-dev/slod/internal/config",
		"github.com/slod-dev/slod/internal/receiver",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("promapi depends on %s", d)
			}
		}
	}
}
