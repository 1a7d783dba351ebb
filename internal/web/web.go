// Package web is what slod's pages share: the layout, the styles, the chart code (slod.js, which
// draws inline SVG from chart data in the shape of History) and the helpers their templates
// format numbers with. The daemon's status page links the styles and the script (Static) and
// `slod check --format html` inlines them into one self-contained file (WriteReport, and
// WriteComparison for --compare), so both draw the same charts with the same code. Nothing is
// fetched from anywhere else: no CDN, no web fonts, no build step, so the pages work air-gapped.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

//go:embed assets/slod.css assets/slod.js
var assetFS embed.FS

//go:embed templates/layout.html
var layoutHTML string

// Assets are the page's styles and script, and a version that changes with them (it keeps a
// browser from running a cached script against a newer page).
type Assets struct {
	CSS     template.CSS
	JS      template.JS
	Version string
}

var assets = loadAssets()

func loadAssets() Assets {
	css, err := assetFS.ReadFile("assets/slod.css")
	if err != nil {
		panic(err)
	}
	js, err := assetFS.ReadFile("assets/slod.js")
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(append(css, js...))
	return Assets{CSS: template.CSS(css), JS: template.JS(js), Version: hex.EncodeToString(sum[:6])}
}

// CSP is the Content-Security-Policy of the daemon's pages: scripts, styles and requests go to
// slod itself only, so a page cannot load anything from elsewhere or send anything there.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// reportCSP is the policy the report carries in a meta element: its inline styles and script
// run, and it can load and send nothing at all.
const reportCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

// Page is a page: its title and content, and how the layout places them.
type Page struct {
	Title string
	// Root is the relative path from the page to slod's root ("./" for /, "../../" for
	// /slo/a/b), so that slod works behind a proxy that serves it under a path prefix.
	Root string
	// Nav names the current item of the navigation: "slos" or "silences".
	Nav string
	// Refreshes is set on pages that refresh themselves, every Refresh seconds (0: paused, by
	// ?refresh=0, which the page's pause button sets).
	Refreshes bool
	Refresh   int
	// Data is what the page's "content" template renders.
	Data any

	inline bool
}

// layoutData is what the layout template reads.
type layoutData struct {
	Page
	Inline bool
	CSP    string
	Assets Assets
}

// NewTemplate parses a page's content (a template that defines "content") into the layout, with
// Funcs and the caller's own functions.
func NewTemplate(name, content string, funcs template.FuncMap) (*template.Template, error) {
	t := template.New(name).Funcs(Funcs())
	if funcs != nil {
		t = t.Funcs(funcs)
	}
	if _, err := t.Parse(layoutHTML); err != nil {
		return nil, fmt.Errorf("parsing the layout: %w", err)
	}
	if _, err := t.Parse(content); err != nil {
		return nil, fmt.Errorf("parsing page %s: %w", name, err)
	}
	return t, nil
}

// Render writes the page p with template t (from NewTemplate), linking the styles and the
// script from Static.
func Render(w io.Writer, t *template.Template, p Page) error {
	return t.Execute(w, layoutData{Page: p, Inline: p.inline, CSP: reportCSP, Assets: assets})
}

// Static serves the styles and the script under static/ (mount it at /static/). They change only
// with slod's version, which the pages put into their URLs, so browsers may cache them.
func Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body, ctype string
		switch strings.TrimPrefix(r.URL.Path, "/static/") {
		case "slod.css":
			body, ctype = string(assets.CSS), "text/css; charset=utf-8"
		case "slod.js":
			body, ctype = string(assets.JS), "text/javascript; charset=utf-8"
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Query().Get("v") == assets.Version {
			w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("ETag", `"`+assets.Version+`"`)
		if r.Header.Get("If-None-Match") == `"`+assets.Version+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, body)
	})
}

// SetPageHeaders sets the headers of a page of the daemon: HTML, the CSP, no caching (the state
// changes every cycle) and no framing.
func SetPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// Funcs are the template functions of every page: numbers, durations, times and bars, with
// "unknown" for what is not known (a nil *float64), never a number.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"pct":    func(v any) string { return known(v, func(f float64) string { return Percent(f) }) },
		"num":    func(v any) string { return known(v, Number) },
		"burn":   func(v any) string { return known(v, func(f float64) string { return Number(f) + "×" }) },
		"signed": func(v any) string { return known(v, func(f float64) string { return signed(Percent(f)) }) },
		"dur":    Duration,
		"ts":     Timestamp,
		"ago":    Ago,
		"bar":    BudgetBar,
		"count":  Count,
		"budgetClass": func(v any) string {
			return known(v, budgetClass)
		},
	}
}

// known formats a float64, or a *float64 that is nil when unknown.
func known(v any, format func(float64) string) string {
	switch f := v.(type) {
	case float64:
		return format(f)
	case *float64:
		if f != nil {
			return format(*f)
		}
	}
	return "unknown"
}

// Percent prints a ratio as a percentage with up to 4 significant digits (99.95%, 42.12%, −17.5%),
// never 0.0009999999999999432, and more where 4 would round it to 100% (99.999%, an objective,
// is not 100%).
func Percent(r float64) string {
	v := r * 100
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e6 {
		return Number(v) + "%"
	}
	for digits := 4; ; digits++ {
		if s := significant(v, digits); s != "100" || v == 100 || digits == 17 {
			return s + "%"
		}
	}
}

// Number prints v with up to 4 significant digits, without an exponent below a million (a tiny
// error ratio is 0.00001234, not 0).
func Number(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "unknown"
	case math.Abs(v) >= 1e6:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return significant(v, 4)
}

// significant prints v rounded to digits significant digits, without an exponent.
func significant(v float64, digits int) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// Count prints an event count: whole numbers with thousands separators, fractions (rates summed
// over a window) to 4 significant digits.
func Count(v any) string {
	return known(v, func(f float64) string {
		if math.Abs(f) >= 1e15 {
			return Number(f)
		}
		if f != math.Trunc(f) {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		s := fmt.Sprintf("%d", int64(math.Abs(f)))
		var b strings.Builder
		if f < 0 {
			b.WriteByte('-')
		}
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteRune(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	})
}

func signed(s string) string {
	if strings.HasPrefix(s, "-") || s == "0%" {
		return strings.Replace(s, "-", "−", 1)
	}
	return "+" + s
}

func budgetClass(r float64) string {
	switch {
	case r <= 0.1:
		return "bad"
	case r <= 0.5:
		return "warn"
	}
	return "good"
}

// Duration prints a duration as SLO files spell it (30d, 1h30m), rounded to the second.
func Duration(d time.Duration) string {
	if d > time.Second {
		d = d.Round(time.Second)
	}
	return model.Duration(d).String()
}

// timeOf is the time t holds (a time.Time or a *time.Time), false for nil or the zero time.
func timeOf(t any) (time.Time, bool) {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v != nil {
			tt = *v
		}
	}
	return tt, !tt.IsZero()
}

// Timestamp prints a time in UTC to the minute, inside a <time> element carrying it exactly.
func Timestamp(t any) template.HTML {
	tt, ok := timeOf(t)
	if !ok {
		return ""
	}
	tt = tt.UTC()
	return template.HTML(`<time datetime="` + tt.Format(time.RFC3339) + `">` + tt.Format("2006-01-02 15:04") + ` UTC</time>`)
}

// Ago prints how long before now t was (3m ago), to two units at most.
func Ago(t any, now time.Time) string {
	tt, ok := timeOf(t)
	if !ok {
		return ""
	}
	d := now.Sub(tt)
	if d < 0 {
		return "in " + Duration(-d.Truncate(time.Second))
	}
	if d < time.Second {
		return "now"
	}
	if d >= time.Hour {
		d = d.Truncate(time.Minute)
	} else {
		d = d.Truncate(time.Second)
	}
	return Duration(d) + " ago"
}

// BudgetBar draws a budget remaining (a ratio, or a *float64 nil when unknown) as a <meter>: green
// above half, amber above a tenth, red below and when overspent (the browser colours it from low,
// high and optimum, with no style attribute, which the pages' CSP forbids); an unknown budget is
// an empty bar.
func BudgetBar(v any) template.HTML {
	var r float64
	switch f := v.(type) {
	case float64:
		r = f
	case *float64:
		if f == nil {
			return `<meter class="bar" min="0" max="1" aria-label="unknown"></meter>`
		}
		r = *f
	default:
		return ""
	}
	r = math.Max(0, math.Min(1, r))
	return template.HTML(fmt.Sprintf(`<meter class="bar" min="0" max="1" low="0.1" high="0.5" optimum="1" value="%.3f"></meter>`, r))
}
