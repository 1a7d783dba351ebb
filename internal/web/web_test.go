package web

import (
	"bytes"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	f := Funcs()
	pct := f["pct"].(func(any) string)
	spent := 0.0009999999999999432
	neg := -17.87
	for _, tc := range []struct {
		got, want string
	}{
		{pct(0.999), "99.9%"},
		{pct(0.99999), "99.999%"},
		{pct(0.99995), "99.995%"},
		{pct(1.0), "100%"},
		{Percent(0.999999999), "99.9999999%"},
		{pct(&spent), "0.1%"},
		{pct((*float64)(nil)), "unknown"},
		{pct(&neg), "-1787%"},
		{Number(1234567), "1.23e+06"},
		{Number(0.00001), "0.00001"},
		{Number(0), "0"},
		{Number(25.2912), "25.29"},
		{Count(25920000.0), "25,920,000"},
		{Count(-1234.0), "-1,234"},
		{Count(15967.5), "15967.5"},
		{Count((*float64)(nil)), "unknown"},
		{f["signed"].(func(any) string)(-0.5), "−50%"},
		{f["signed"].(func(any) string)(0.25), "+25%"},
		{Duration(30 * 24 * time.Hour), "30d"},
		{Duration(90*time.Minute + 400*time.Millisecond), "1h30m"},
		{Ago(time.Date(2026, 11, 25, 9, 0, 30, 0, time.UTC), time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)), "2h59m ago"},
		{Ago((*time.Time)(nil), time.Now()), ""},
		{string(Timestamp(time.Date(2026, 11, 25, 9, 0, 30, 0, time.FixedZone("x", 3600)))), `<time datetime="2026-11-25T08:00:30Z">2026-11-25 08:00 UTC</time>`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestBudgetBar(t *testing.T) {
	low, over := 0.05, -2.5
	for _, tc := range []struct {
		v    any
		want string
	}{
		{0.8, `value="0.800"`},
		{&low, `value="0.050"`},
		{&over, `value="0.000"`},
		{(*float64)(nil), `aria-label="unknown"`},
	} {
		if got := string(BudgetBar(tc.v)); !strings.Contains(got, tc.want) || strings.Contains(got, "style=") {
			t.Errorf("BudgetBar(%v) = %s, want %s and no style attribute", tc.v, got, tc.want)
		}
	}
}

func TestStatic(t *testing.T) {
	srv := httptest.NewServer(Static())
	defer srv.Close()
	for _, tc := range []struct {
		path, ctype, cache string
		code               int
	}{
		{"/static/slod.css?v=" + assets.Version, "text/css; charset=utf-8", "public, max-age=86400, immutable", 200},
		{"/static/slod.js", "text/javascript; charset=utf-8", "no-cache", 200},
		{"/static/other.js", "", "", 404},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || tc.code == 200 && (resp.Header.Get("Content-Type") != tc.ctype || resp.Header.Get("Cache-Control") != tc.cache) {
			t.Errorf("%s: %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/static/slod.js", nil)
	req.Header.Set("If-None-Match", `"`+assets.Version+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("a cached script: %d, want 304", resp.StatusCode)
	}
}

// TestPages renders a page linking the assets under the daemon's CSP, and a report with them
// inline, loading nothing.
func TestPages(t *testing.T) {
	tmpl, err := NewTemplate("p", `{{define "content"}}<p>{{pct .}}</p>{{end}}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, tmpl, Page{Title: "t", Root: "../../", Refreshes: true, Refresh: 30, Data: 0.5}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<base href="../../">`, `href="static/slod.css?v=` + assets.Version, `<body data-refresh="30">`, "<p>50%</p>", "refreshing every 30s"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
	h := http.Header{}
	SetPageHeaders(h)
	if h.Get("Content-Security-Policy") != CSP || !strings.Contains(CSP, "default-src 'none'") || !strings.Contains(CSP, "connect-src 'self'") {
		t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
	}

	b.Reset()
	if err := WriteReport(&b, Report{From: time.Unix(0, 0), To: time.Unix(3600, 0), Step: "1m"}); err != nil {
		t.Fatal(err)
	}
	report := b.String()
	if !strings.Contains(report, `content="`+template.HTMLEscapeString(reportCSP)+`"`) || !strings.Contains(report, "function fmtTime") || strings.Contains(report, "static/") ||
		strings.Contains(report, "<base") {
		t.Errorf("the report is not self-contained:\n%.2000s", report)
	}
}
