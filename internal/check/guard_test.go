package check_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

// lowTrafficDay is examples/admin.om (internal/examplegen.Admin), starting at start: a day of an
// admin API at one request a minute (scraped every minute, 15 s after it): four single failed
// requests, and a 30-minute outage in which every request fails.
func lowTrafficDay(t *testing.T, start time.Time) *recorded.DB {
	t.Helper()
	if !start.Equal(examplegen.AdminStart) {
		t.Fatalf("examples/admin.om starts at %s, not %s", examplegen.AdminStart, start)
	}
	db, err := recorded.ParseFile("../../examples/admin.om")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// At one request a minute the workbook's policy pages for every single failed request; the
// min_bad_events guard keeps those four pages from being sent while
// the outage still pages, and slod check says how many alert intervals it suppressed.
func TestLowTrafficGuard(t *testing.T) {
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	set, err := rules.Load([]string{"testdata/low-traffic.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	step := time.Minute
	from, to := start.Add(step), start.Add(24*time.Hour)
	res, err := eval.Backtest(context.Background(), recorded.NewQuerier(lowTrafficDay(t, start)), set.SLOs, from, to,
		eval.Options{Step: step, DataStart: start}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pages := func(r eval.Result) []time.Time {
		var out []time.Time
		for _, a := range r.Alerts {
			if a.Severity == burnrate.Page {
				out = append(out, a.Start)
			}
		}
		return out
	}
	at := func(h, m int) time.Time { return start.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	workbook, guarded := res[0], res[1]
	wantWorkbook := []time.Time{at(2, 1), at(7, 31), at(12, 11), at(15, 46), at(20, 1)}
	if got := pages(workbook); !equalTimes(got, wantWorkbook) {
		t.Errorf("workbook pages at %v, want %v", got, wantWorkbook)
	}
	// The 6h/30m pair holds first: at 20:04 its long window counts the error of 15:45 and four of
	// the outage.
	if got, want := pages(guarded), []time.Time{at(20, 4)}; !equalTimes(got, want) {
		t.Errorf("guarded pages at %v, want %v", got, want)
	}
	if workbook.Suppressed != 0 || guarded.Suppressed != 4 {
		t.Errorf("suppressed: workbook %d, guarded %d; want 0 and 4 (the four pages)", workbook.Suppressed, guarded.Suppressed)
	}

	var b bytes.Buffer
	if err := check.WriteText(&b, check.Report{From: from, To: to, Step: step, Results: res}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "low-traffic.txt")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("the report differs from %s (go test -update rewrites it):\n%s", path, b.String())
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
