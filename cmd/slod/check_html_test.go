package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/browsertest"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the check report's screenshot into docs/ (the README shows it)")

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.Shutdown()
	os.Exit(code)
}

// TestCheckHTMLReport is the README's `slod check --format html -o report.html` on the shipped
// SLOs and recording: one file that refers to nothing outside itself, and, in Chromium, a summary
// and every SLO's charts drawn with their points, the alert intervals shaded, nothing requested
// but the file, no console error.
func TestCheckHTMLReport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := runCheckCmd("../../rules/", "--data", "../../examples/assistant.om", "--format", "html", "-o", out)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, m := range regexp.MustCompile(`(?i)<(?:script|link|img)[^>]+(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			t.Errorf("the report loads something from outside itself: %s", m[0])
		}
	}
	if !strings.Contains(page, "Content-Security-Policy") || !strings.Contains(page, "<h1>Backtest: 16 SLOs</h1>") {
		t.Errorf("the report lacks its CSP or its title")
	}

	br := browsertest.Get(t)
	p := br.NewPage(t, 90*time.Second)
	if err := p.Open("file://" + out); err != nil {
		t.Fatal(err)
	}
	charts, err := browsertest.Eval[[]int](p, `[...document.querySelectorAll("figure.chart")].map(f => +f.dataset.points)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2*16 {
		t.Errorf("%d charts, want a budget and a burn chart for each of the 16 SLOs and groups", len(charts))
	}
	for i, n := range charts {
		// Four days at one point every 4 minutes: 1,440 points a series; the per-model SLOs'
		// series start on the third day.
		if n < 700 {
			t.Errorf("chart %d has %d points drawn", i, n)
		}
	}
	bands, _ := browsertest.Eval[map[string]int](p, `Object.fromEntries(["page", "ticket"].map(s => [s, document.querySelectorAll("rect.band." + s).length]))`)
	if bands["page"] == 0 || bands["ticket"] == 0 {
		t.Errorf("alert intervals shaded: %v, want pages and tickets", bands)
	}
	summary, _ := browsertest.Eval[string](p, `document.querySelector(".tiles").innerText`)
	if !strings.Contains(summary, "PAGED\n2") || !strings.Contains(summary, "TICKETED\n1") {
		t.Errorf("summary:\n%s", summary)
	}
	path := filepath.Join(t.TempDir(), "report.png")
	if err := p.ScreenshotTop(path, 1400, 2000); err != nil {
		t.Fatal(err)
	}
	if *updateScreenshots {
		if err := os.WriteFile("../../docs/screenshots/report.png", mustRead(t, path), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.CheckLocal(t)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
