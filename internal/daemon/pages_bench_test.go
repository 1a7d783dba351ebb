package daemon

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/browsertest"
)

// maxDetailPayload is the most a detail page may weigh with its styles and script: the page of an
// SLO over its whole 30-day window, charts' data included (issue 16).
const maxDetailPayload = 300 << 10

// detailPayload is the bytes a browser downloads for an SLO's page: the page, its styles and its
// script (its charts' data is inside the page).
func detailPayload(t testing.TB, base, path string) int {
	t.Helper()
	n := 0
	for _, p := range []string{path, "/static/slod.css", "/static/slod.js"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", p, resp.StatusCode, err)
		}
		n += len(b)
	}
	return n
}

// TestDetailPagePayload holds the page of an SLO over its whole window to maxDetailPayload: its
// size depends on the history's points, not on time, so this is a test, not a benchmark.
func TestDetailPagePayload(t *testing.T) {
	dm := newDemo(t)
	for _, path := range []string{"/slo/checkout/availability", "/slo/checkout/availability?range=window", `/slo/search/answers-per-model%7Bmodel=%22code%22%7D`} {
		if n := detailPayload(t, dm.srv.URL, path); n > maxDetailPayload {
			t.Errorf("%s weighs %d bytes with its styles and script, want at most %d", path, n, maxDetailPayload)
		}
	}
}

// BenchmarkDetailPagePayload reports the bytes of an SLO's page over its 30-day window.
func BenchmarkDetailPagePayload(b *testing.B) {
	dm := newDemo(b)
	for b.Loop() {
		b.ReportMetric(float64(detailPayload(b, dm.srv.URL, "/slo/checkout/availability")), "bytes/page")
	}
}

// bigRules are n SLOs, ten to a file.
func bigRules(n int) []string {
	var files []string
	for f := 0; f*10 < n; f++ {
		var sb strings.Builder
		fmt.Fprintf(&sb, "version: slod/v1\nservice: svc-%03d\nlabels: {team: team-%d}\nslos:\n", f, f%7)
		for i := 0; i < 10 && f*10+i < n; i++ {
			fmt.Fprintf(&sb, `  - name: slo-%d
    description: SLO %d of service %d.
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{job="j%d",code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="j%d"}[{{.window}}]))
`, i, i, f, f*10+i, f*10+i)
		}
		files = append(files, sb.String())
	}
	return files
}

// BenchmarkListPage1000 loads the list of 1,000 SLOs (30-day windows, three hours evaluated) in
// Chromium and reports how long the browser took to have it ready (its own measurement: from the
// start of the navigation to the end of slod.js's work) and the page's bytes. The target is under
// a second (issue 16).
func BenchmarkListPage1000(b *testing.B) {
	br := browsertest.Get(b)
	start := time.Now()
	dm := newDemo(b, bigRules(1000)...)
	b.Logf("1,000 SLOs backfilled and evaluated in %s", time.Since(start).Round(time.Millisecond))
	p := br.NewPage(b, 10*time.Minute)
	var ready, bytes float64
	for b.Loop() {
		if err := p.Open(dm.srv.URL + "/?refresh=0"); err != nil {
			b.Fatal(err)
		}
		ms, err := browsertest.Eval[float64](p, `window.slodReadyMs`)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := browsertest.Eval[float64](p, `performance.getEntriesByType("navigation")[0].transferSize`)
		rows, _ := browsertest.Eval[int](p, `document.querySelectorAll("div.list .row[data-id]").length`)
		if rows != 1000 {
			b.Fatalf("%d rows, want 1,000", rows)
		}
		ready, bytes = ready+ms, bytes+n
	}
	b.ReportMetric(ready/float64(b.N), "ms-to-ready")
	b.ReportMetric(bytes/float64(b.N), "bytes/page")
}
