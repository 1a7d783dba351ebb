package daemon

import (
	"flag"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slod-dev/slod/internal/browsertest"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the status page's screenshots into docs/ (the README shows them)")

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.Shutdown()
	os.Exit(code)
}

// browserTimeout bounds every browser test's page: loads on loopback take milliseconds, a slow CI
// machine seconds.
const browserTimeout = 90 * time.Second

// shot saves a screenshot under the test's temporary directory, and, for those the README shows
// (docs), into docs/screenshots with -update-screenshots.
func shot(t *testing.T, p *browsertest.Page, name string, docs bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := p.Screenshot(path); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	if *updateScreenshots && docs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatusPageInBrowser loads the list, the page of a firing SLO and the silences in Chromium:
// rows in order (firing first), the charts drawn with their points, the alert intervals shaded,
// nothing requested from anywhere but slod on 127.0.0.1, and no error in the console.
func TestStatusPageInBrowser(t *testing.T) {
	b := browsertest.Get(t)
	dm := newDemo(t)
	p := b.NewPage(t, browserTimeout)
	if err := p.Open(dm.srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	rows, err := browsertest.Eval[[]string](p, `[...document.querySelectorAll("div.list .row[data-id]")].map(r => r.dataset.id + " " + r.className)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 || !strings.HasPrefix(rows[0], "checkout/availability row firing") {
		t.Errorf("rows = %q, want the 8 SLOs and groups, the firing checkout/availability first", rows)
	}
	text, _ := browsertest.Eval[string](p, `document.querySelector("div.list").textContent`)
	for _, want := range []string{"low volume", "silenced", "unknown"} {
		if !strings.Contains(text, want) {
			t.Errorf("the list does not say %q:\n%s", want, text)
		}
	}
	shot(t, p, "list.png", true)
	p.CheckLocal(t)

	p = b.NewPage(t, browserTimeout)
	if err := p.Open(dm.srv.URL + "/slo/checkout/availability"); err != nil {
		t.Fatal(err)
	}
	charts, err := browsertest.Eval[map[string]int](p, `Object.fromEntries([...document.querySelectorAll("figure.chart")].map(f => [f.id, +f.dataset.points]))`)
	if err != nil {
		t.Fatal(err)
	}
	// 30 days at the tiers' resolutions: about 1,000 points of the budget, four burn series.
	if charts["budget"] < 500 || charts["burn"] < 4*400 {
		t.Errorf("points drawn = %v, want the budget's ~1,000 and the burn series' ~4,000", charts)
	}
	bands, _ := browsertest.Eval[int](p, `document.querySelectorAll("figure#budget rect.band.page").length`)
	if bands != 2 {
		t.Errorf("%d page intervals shaded on the budget chart, want 2 (the one that ended, the one firing)", bands)
	}
	incidents, _ := browsertest.Eval[string](p, `[...document.querySelectorAll("h2")].find(h => h.textContent == "Incidents").nextElementSibling.innerText`)
	if !strings.Contains(incidents, "oncall trigger: delivered") || !strings.Contains(incidents, "oncall resolve: delivered") || !strings.Contains(incidents, "firing") {
		t.Errorf("the incidents do not show both page incidents with their deliveries:\n%s", incidents)
	}
	shot(t, p, "detail.png", true)
	// The range links and the silence link lead where they say, from slod's root (the page's base).
	if err := chromedp.Do(p.Ctx, chromedp.Click(chromedp.CSS(`.ranges a[href$="range=6h"]`)), chromedp.WaitReady(chromedp.CSS(`body[data-ready] .ranges a.current`))); err != nil {
		t.Fatal(err)
	}
	loc, _ := browsertest.Eval[string](p, `location.pathname + location.search + " " + JSON.parse(document.getElementById("history").textContent).resolutions.map(r => r.step).join(",")`)
	if loc != "/slo/checkout/availability?range=6h 1m" {
		t.Errorf("after the 6h link: %q, want the SLO's page over 6 hours, a point a minute", loc)
	}
	if err := chromedp.Do(p.Ctx, chromedp.Click(chromedp.CSS(`dd a[href^="silences?"]`)), chromedp.WaitReady(chromedp.CSS(`body[data-ready] form.silence`))); err != nil {
		t.Fatal(err)
	}
	matchers, _ := browsertest.Eval[string](p, `location.pathname + " " + [...document.querySelectorAll(".matcher")].map(m => m.querySelector("[name=m-name]").value + "=" + m.querySelector("[name=m-value]").value).join(",")`)
	if matchers != "/silences service=checkout,slo=availability" {
		t.Errorf("the silence link: %q", matchers)
	}
	p.CheckLocal(t)

	p = b.NewPage(t, browserTimeout)
	if err := p.Open(dm.srv.URL + "/slo/search/availability?range=1d"); err != nil {
		t.Fatal(err)
	}
	gaps, _ := browsertest.Eval[[]int](p, `[document.querySelectorAll("figure#budget rect.gap").length,
		document.querySelector('figure#budget path.series').getAttribute("d").split("M").length - 1]`)
	if len(gaps) != 2 || gaps[0] != 1 || gaps[1] != 2 {
		t.Errorf("search/availability's half-hour scrape gap: %v hatched areas and line pieces, want 1 and 2", gaps)
	}
	p.CheckLocal(t)

	p = b.NewPage(t, browserTimeout)
	if err := p.Open(dm.srv.URL + "/slo/checkout/latency?range=1d"); err != nil {
		t.Fatal(err)
	}
	deliveries, _ := browsertest.Eval[string](p, `document.body.innerText`)
	if !strings.Contains(deliveries, "silence") || !strings.Contains(deliveries, "tickets trigger: retrying") {
		t.Errorf("the silenced ticket's page does not show its silence and its failing receiver")
	}
	p.CheckLocal(t)
}

// TestSilencesPageInBrowser creates a silence with the page's form and expires it with its button.
func TestSilencesPageInBrowser(t *testing.T) {
	b := browsertest.Get(t)
	dm := newDemo(t)
	p := b.NewPage(t, browserTimeout)
	if err := p.Open(dm.srv.URL + "/silences?matcher=service=search&matcher=slo=availability"); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(p.Ctx,
		chromedp.SetValue(chromedp.CSS("#createdBy"), "bo"),
		chromedp.SetValue(chromedp.CSS("#comment"), "deploying search"),
		chromedp.Click(chromedp.CSS("form.silence button[type=submit]")),
		chromedp.WaitReady(chromedp.CSS("tr.pending button[data-expire]")),
	)
	if err != nil {
		t.Fatalf("creating a silence with the form: %v", err)
	}
	list := dm.d.silences.List()
	var created string
	for _, s := range list {
		// Two hours from slod's time, not the browser's (the demo's clock is in 2026).
		if s.CreatedBy == "bo" && s.Comment == "deploying search" && len(s.Matchers) == 2 &&
			s.EndsAt.Sub(dm.clock.Now()) >= 2*time.Hour && s.EndsAt.Sub(dm.clock.Now()) < 2*time.Hour+browserTimeout {
			created = s.ID
		}
	}
	if created == "" {
		t.Fatalf("no silence by bo among %+v", list)
	}
	shot(t, p, "silences.png", false)
	if err := chromedp.Do(p.Ctx, chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`button[data-expire="`+created+`"]`)),
		chromedp.WaitReady(chromedp.CSS(`tr[id="`+created+`"] .chip.inactive`))); err != nil {
		t.Fatalf("expiring it with its button: %v", err)
	}
	for _, s := range dm.d.silences.List() {
		if s.ID == created && s.Status(dm.clock.Now()) != "expired" {
			t.Errorf("silence %s is %s after its expire button", created, s.Status(dm.clock.Now()))
		}
	}
	p.CheckLocal(t)
}

// TestChartNumbersAreTheAPIs compares the last point of each chart, as drawn in the browser, with
// what /api/v1/slos/{service}/{name} says at the same instant (no cycle runs in between).
func TestChartNumbersAreTheAPIs(t *testing.T) {
	b := browsertest.Get(t)
	dm := newDemo(t)
	for _, id := range []string{"checkout/availability", "checkout/latency", `search/answers-per-model{model="code"}`} {
		svc, name, _ := strings.Cut(id, "/")
		p := b.NewPage(t, browserTimeout)
		if err := p.Open(dm.srv.URL + "/slo/" + svc + "/" + url.PathEscape(name)); err != nil {
			t.Fatal(err)
		}
		drawn, err := browsertest.Eval[map[string]float64](p,
			`Object.fromEntries([...document.querySelectorAll("circle.last")].map(c => [c.closest("figure").id + "/" + c.dataset.series, +c.dataset.v]))`)
		if err != nil {
			t.Fatal(err)
		}
		var entry sloView
		apiGet(t, dm.srv.URL, "/api/v1/slos/"+svc+"/"+url.PathEscape(name), 200, &entry)
		want := map[string]float64{"budget/budget": *entry.BudgetRemaining * 100}
		for _, w := range entry.Windows {
			if w.Window == "1h" || w.Window == "6h" || w.Window == "1d" || w.Window == "3d" {
				want["burn/"+w.Window] = *w.BurnRate
			}
		}
		if len(drawn) != len(want) {
			t.Errorf("%s: last points drawn %v, API %v", id, drawn, want)
		}
		for k, v := range want {
			if got, ok := drawn[k]; !ok || math.Abs(got-v) > 1e-9*math.Max(1, math.Abs(v)) {
				t.Errorf("%s: %s drawn at %v, the API says %v", id, k, got, v)
			}
		}
		p.CheckLocal(t)
	}
}

// TestStatusPageRefreshes: the list refreshes itself (here every 2 s, ?refresh=2) and shows what
// a later cycle changed without a reload; its pause button stops that and keeps ?refresh=0 in the
// URL.
func TestStatusPageRefreshes(t *testing.T) {
	b := browsertest.Get(t)
	dm := newDemo(t)
	p := b.NewPage(t, browserTimeout)
	if err := p.Open(dm.srv.URL + "/?refresh=2&service=checkout"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(p.Ctx, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	// The outage is over: the page resolves within minutes.
	for at := demoEnd.Add(10 * time.Minute); !at.After(demoEnd.Add(40 * time.Minute)); at = at.Add(10 * time.Minute) {
		dm.clock.Set(at)
		if err := dm.d.Cycle(p.Ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	_, err := chromedp.Run(p.Ctx, chromedp.Poll[bool](
		`document.querySelector('div.row[data-id="checkout/availability"]').textContent.includes("page: inactive") && window.notReloaded`))
	if err != nil {
		row, _ := browsertest.Eval[string](p, `document.querySelector('div.row[data-id="checkout/availability"]').textContent + " | " + document.querySelector("#refresh").title + document.querySelector("#refresh span").textContent`)
		_, page := get(t, dm.srv, "/?service=checkout")
		t.Fatalf("the list did not show the resolved page without a reload: %v\nrow: %s\nerrors: %v\nnow served: %.3000s", err, row, p.Errors(), page[strings.Index(page, "<main>"):])
	}
	if err := chromedp.Do(p.Ctx, chromedp.Click(chromedp.CSS("#refresh button"))); err != nil {
		t.Fatal(err)
	}
	loc, _ := browsertest.Eval[string](p, `location.search + " " + document.querySelector("#refresh span").textContent`)
	if loc != "?refresh=0&service=checkout refresh paused" {
		t.Errorf("after pause: %q", loc)
	}
	p.CheckLocal(t)
}
