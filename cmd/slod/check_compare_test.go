package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// compareExample is the README's comparison: chat-api's availability objective moved from 99.9 to
// 99.5, on the shipped recording and its incidents.
var compareExample = []string{"--compare", "../../rules/chat-api.yaml", "../../examples/chat-api-99.5.yaml",
	"--data", "../../examples/assistant.om", "--incidents", "../../examples/incidents.yaml"}

// TestCheckCompareExample: the README shows the comparison exactly as slod check prints it, on a
// new side that is the shipped file with one objective changed; the lower objective pages less and
// misses the bad deploy of Oct 4.
func TestCheckCompareExample(t *testing.T) {
	shipped, err := os.ReadFile("../../rules/chat-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed, err := os.ReadFile("../../examples/chat-api-99.5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Its own two lines of comment, then the shipped file.
	lines := strings.SplitN(string(changed), "\n", 3)
	body := lines[len(lines)-1]
	if want := strings.Replace(string(shipped), "objective: 99.9\n", "objective: 99.5\n", 1); body != want {
		t.Error("examples/chat-api-99.5.yaml is not rules/chat-api.yaml with the availability objective at 99.5 (after its two lines of comment)")
	}
	code, stdout, stderr := runCheckCmd(compareExample...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	text := strings.ReplaceAll(stdout, "../../", "")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+text+"```\n") {
		t.Errorf("the README does not show the comparison as slod check prints it now:\n%s", text)
	}
	for _, want := range []string{"chat-api/availability  7.5 → 0", "missed by the new rules: bad deploy"} {
		if !strings.Contains(text, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, text)
		}
	}
}

// TestCheckCompareFailOnMorePages: the CI gate. Going back from 99.5 to 99.9 pages 7.5 more times
// per 30 days on the example: more than 7 fails (exit 1, saying why), 8 passes; the JSON report
// says the same numbers.
func TestCheckCompareFailOnMorePages(t *testing.T) {
	args := []string{"--compare", "../../examples/chat-api-99.5.yaml", "../../rules/chat-api.yaml", "--data", "../../examples/assistant.om"}
	code, stdout, stderr := runCheckCmd(append(args, "--fail-on-more-pages", "7", "--format", "json")...)
	if code != 1 || !strings.Contains(stderr, "the new rules page 7.5 times per 30 days, 7.5 more than the old rules' 0: more than --fail-on-more-pages 7") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, stderr)
	}
	var doc struct {
		MorePages float64 `json:"more_pages_per_30d"`
		SLOs      []struct {
			ID, Status string
			Old, New   struct {
				Pages           int
				BudgetRemaining float64 `json:"budget_remaining"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if doc.MorePages != 7.5 || len(doc.SLOs) != 3 || doc.SLOs[0].ID != "chat-api/availability" || doc.SLOs[0].Status != "both" ||
		doc.SLOs[0].Old.Pages != 0 || doc.SLOs[0].New.Pages != 1 || doc.SLOs[0].New.BudgetRemaining >= doc.SLOs[0].Old.BudgetRemaining {
		t.Errorf("JSON report:\n%s", stdout)
	}
	if code, _, stderr := runCheckCmd(append(args, "--fail-on-more-pages", "8")...); code != 0 {
		t.Errorf("with room for 8 more pages: exit %d\n%s", code, stderr)
	}
}
