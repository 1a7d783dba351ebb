package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/browsertest"
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

// TestCheckCompareLowTraffic is the README's second comparison: the admin API of examples/admin.om
// without and with the low-traffic guard. The README shows it as slod check prints it; the guard
// suppresses the four single errors' pages and still pages for the outage, three minutes later.
func TestCheckCompareLowTraffic(t *testing.T) {
	plain := string(mustRead(t, "../../examples/admin.yaml"))
	guarded := string(mustRead(t, "../../examples/admin-guarded.yaml"))
	bodyOf := func(s string) string { return s[strings.Index(s, "version: "):] }
	if want := bodyOf(plain) + "    alerting:\n      # A window pair fires only when its long window holds at least 5 failed requests.\n      min_bad_events: 5\n"; bodyOf(guarded) != want {
		t.Error("examples/admin-guarded.yaml is not examples/admin.yaml with min_bad_events: 5 (after its comment)")
	}
	code, stdout, stderr := runCheckCmd("--compare", "../../examples/admin.yaml", "../../examples/admin-guarded.yaml",
		"--data", "../../examples/admin.om", "--incidents", "../../examples/incidents.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	text := strings.ReplaceAll(stdout, "../../", "")
	if !strings.Contains(string(mustRead(t, "../../README.md")), "```\n"+text+"```\n") {
		t.Errorf("the README does not show the low-traffic comparison as slod check prints it now:\n%s", text)
	}
	for _, want := range []string{"admin/availability  150.1 → 30  30", "0 → 4", "1/1              1m → 4m",
		"alert intervals the low-traffic guard suppressed: 0 → 4"} {
		if !strings.Contains(text, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, text)
		}
	}
}

// TestCheckCompareBudgetPages: a budget page (the admin API's budget is spent by its first failed
// request, and stays so) is counted apart from the burn-rate pages, and still counts for
// --fail-on-more-pages, which says so; the HTML page has the budget alerts' columns.
func TestCheckCompareBudgetPages(t *testing.T) {
	guarded := string(mustRead(t, "../../examples/admin-guarded.yaml"))
	budgeted := filepath.Join(t.TempDir(), "admin.yaml")
	if err := os.WriteFile(budgeted, []byte(guarded+"      budget:\n        - {severity: page, below: 0%}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--compare", "../../examples/admin-guarded.yaml", budgeted, "--data", "../../examples/admin.om"}
	code, stdout, stderr := runCheckCmd(append(args, "--fail-on-more-pages", "29")...)
	if code != 1 || !strings.Contains(stderr, "the new rules page 60 times per 30 days (budget pages included), 30 more than the old rules' 30: more than --fail-on-more-pages 29") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, stderr)
	}
	for _, want := range []string{"budget pages/30d  budget tickets/30d", "admin/availability  30         30           0 → 30            0",
		"pages per 30 days: 30 → 30, and budget pages: 0 → 30; all pages: 30 → 60 (+30)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, stdout)
		}
	}
	// The range is 23h59m: one more page in it is 30.02 more per 30 days.
	if code, _, stderr := runCheckCmd(append(args, "--fail-on-more-pages", "31")...); code != 0 {
		t.Errorf("with room for 31 more pages: exit %d\n%s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "compare.html")
	if code, _, stderr := runCheckCmd(append(args, "--format", "html", "-o", out)...); code != 0 {
		t.Fatalf("--format html: exit %d\n%s", code, stderr)
	}
	page := string(mustRead(t, out))
	for _, want := range []string{"<th class=\"num\">Budget pages per 30 days</th>", "<th class=\"num\">Suppressed by the low-traffic guard</th>",
		`<span class="old">0</span> → <span class="new worse">30</span>`, "<dt>Budget pages, tickets</dt>", "<dt>Suppressed</dt>",
		`<div class="k">All pages per 30 days</div><div class="v"><span class="old">30</span> → <span class="new worse">60</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
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

// TestCheckCompareHTML is the README's comparison written as a page (--format html -o FILE): one
// file that refers to nothing outside itself with the text table's figures, each change coloured
// as better or worse, and the incident the new rules miss; in Chromium, nothing requested but the
// file and no console error.
func TestCheckCompareHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "compare.html")
	// From the repository's root, as the README runs it: the page names the rule sets as given.
	t.Chdir("../..")
	var args []string
	for _, a := range compareExample {
		args = append(args, strings.TrimPrefix(a, "../../"))
	}
	code, stdout, stderr := runCheckCmd(append(args, "--format", "html", "-o", out)...)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	page := string(mustRead(t, out))
	checkSelfContained(t, page)
	for _, want := range []string{
		"<h1>Compare <code>rules/chat-api.yaml</code> → <code>examples/chat-api-99.5.yaml</code></h1>",
		" on <code>assistant.om</code>; figures per 30 days are the range's × 7.5.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	br := browsertest.Get(t)
	p := br.NewPage(t, 60*time.Second)
	if err := p.Open("file://" + out); err != nil {
		t.Fatal(err)
	}
	// Each row's cells as shown, a changed one with the new figure's class: what the text table
	// says, as the README shows it.
	rows, err := browsertest.Eval[[][]string](p, `[...document.querySelectorAll("table.compare")[0].rows].slice(1).map(r =>
		[...r.cells].map(c => c.innerText + (c.querySelector(".new") ? " [" + c.querySelector(".new").className + "]" : "")))`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"chat-api/availability", "7.5 → 0 [new better]", "0", "48m → 0s [new better]", "0", "52.23% → 90.45% [new]",
			"17.76% → no page [new]", "1/1 → 0/1 [new worse]", "6m → – [new]"},
		{"chat-api/latency-p95", "0", "0", "0s", "0", "95.79%", "no page", "0/0", "–"},
		{"chat-api/latency-p50", "0", "0", "0s", "0", "60.61%", "no page", "0/0", "–"},
	}
	if got, _ := json.Marshal(rows); string(got) != string(mustJSON(t, want)) {
		t.Errorf("table rows\n%s\nwant\n%s", got, mustJSON(t, want))
	}
	tiles, _ := browsertest.Eval[string](p, `document.querySelector(".tiles").innerText`)
	if !strings.Contains(tiles, "PAGES PER 30 DAYS\n7.5 → 0") || !strings.Contains(tiles, "INCIDENTS PAGED\n1/1 → 0/1") {
		t.Errorf("totals:\n%s", tiles)
	}
	incident, _ := browsertest.Eval[string](p, `document.querySelectorAll("table.compare")[1].rows[1].innerText`)
	if !strings.Contains(incident, "bad deploy") || !strings.Contains(incident, "6m → missed") {
		t.Errorf("the incidents table's row: %q, want the bad deploy paged after 6m, then missed", incident)
	}
	screenshot(t, p, "docs/screenshots/compare.png", 1400, 700)
	p.CheckLocal(t)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
