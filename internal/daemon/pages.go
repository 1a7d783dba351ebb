package daemon

import (
	"bytes"
	"cmp"
	"embed"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/web"
)

// The status page: the list of SLOs (/), one SLO (/slo/{service}/{name}, a group's key after the
// name as in the API) and the silences (/silences), rendered on the server from the same views as
// the API (instView, detail, chartData) with the layout, styles and chart code of internal/web.
// The pages refresh themselves (slod.js fetches them again) as often as slod evaluates.

//go:embed pages/*.html
var pageFS embed.FS

var pageFuncs = template.FuncMap{
	// sloPath is the page of an entry, relative to slod's root.
	"sloPath": func(v sloView) string {
		return "slo/" + url.PathEscape(v.Service) + "/" + url.PathEscape(v.Name+groupKeyOf(v.ID, v.Service, v.Name))
	},
	// sliValue is the SLI over the window, 1 − its error ratio.
	"sliValue": func(ratio *float64) string {
		if ratio == nil {
			return "unknown"
		}
		return web.Percent(1 - *ratio)
	},
	"spent": func(v *float64) string {
		if v == nil {
			return "unknown"
		}
		if *v == 0 {
			return "0%"
		}
		return "−" + web.Percent(*v)
	},
	"chipOf": func(a alertView, now time.Time) chip { return chip{A: a, Since: alertSince(a, now)} },
	"matcher": func(m notify.Matcher) string {
		op := map[[2]bool]string{{false, true}: "=", {false, false}: "!=", {true, true}: "=~", {true, false}: "!~"}[[2]bool{m.IsRegex, m.IsEqual}]
		return m.Name + op + strconv.Quote(m.Value)
	},
	"outcomeClass": func(o string) string {
		switch notify.DeliveryOutcome(o) {
		case notify.Delivered:
			return "good"
		case notify.Retrying, notify.Superseded:
			return "warn"
		case notify.Rejected, notify.Dropped:
			return "bad"
		}
		return "muted"
	},
}

// chip is an alert as a chip: its state and for how long it has been in it.
type chip struct {
	A     alertView
	Since string
}

// alertSince is how long a pending or firing alert has been so ("12m"), else "".
func alertSince(a alertView, now time.Time) string {
	t := a.ActiveAt
	if a.State == "firing" && a.FiredAt != nil {
		t = a.FiredAt
	}
	if t == nil || (a.State != "firing" && a.State != "pending") {
		return ""
	}
	d := now.Sub(*t).Truncate(time.Second)
	if d >= time.Hour {
		d = d.Truncate(time.Minute)
	}
	return web.Duration(d)
}

// groupKeyOf is the group's key at the end of an entry's id ("" for an SLO without groups).
func groupKeyOf(id, service, name string) string { return strings.TrimPrefix(id, service+"/"+name) }

var pageTmpls = func() map[string]*template.Template {
	partials, err := pageFS.ReadFile("pages/partials.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"list", "detail", "silences"} {
		content, err := pageFS.ReadFile("pages/" + name + ".html")
		if err != nil {
			panic(err)
		}
		t, err := web.NewTemplate(name, string(partials)+string(content), pageFuncs)
		if err != nil {
			panic(err)
		}
		out[name] = t
	}
	return out
}()

// renderPage writes a page, or logs why it could not.
func (d *Daemon) renderPage(w http.ResponseWriter, name string, p web.Page) {
	d.renderPageStatus(w, http.StatusOK, name, p)
}

// renderPageStatus writes a page with the status code code; a page that fails to render is a
// 500 with the error, not half a page.
func (d *Daemon) renderPageStatus(w http.ResponseWriter, code int, name string, p web.Page) {
	var buf bytes.Buffer
	if err := web.Render(&buf, pageTmpls[name], p); err != nil {
		d.log.Warn("rendering a page", "page", name, "err", err)
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	web.SetPageHeaders(w.Header())
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// refreshEvery is how often a page refreshes, in seconds: ?refresh=N (0: never; 2 to 3600), else
// the evaluation interval, between 10s and 5m.
func (d *Daemon) refreshEvery(r *http.Request) int {
	if v := r.URL.Query().Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			if n == 0 {
				return 0
			}
			return min(max(n, 2), 3600)
		}
	}
	d.mu.RLock()
	sched := d.rt.schedule
	d.mu.RUnlock()
	next := sched.Next(d.clock.Now())
	every := sched.Next(next).Sub(next)
	return int(min(max(every, 10*time.Second), 5*time.Minute) / time.Second)
}

// listFilter is the list page's filter, kept in its URL: service, label=KEY=VALUE and state.
type listFilter struct {
	Service []string
	Label   string
	State   string
	// Refresh is the page's ?refresh=, which the filter form keeps.
	Refresh string
	Error   string
}

// Any reports whether the filter selects anything.
func (f listFilter) Any() bool { return len(f.Service) > 0 || f.Label != "" || f.State != "" }

// Has reports whether s is among the services selected (the template's select).
func (f listFilter) Has(s string) bool { return slices.Contains(f.Service, s) }

// listPage is the list page's content.
type listPage struct {
	Status    statusView
	Now       time.Time
	SLOs      []sloView
	Total     int
	Counts    map[string]int
	LowVolume int
	Services  []string
	States    []string
	Filter    listFilter
}

// listStates are the states the list filters by.
var listStates = []string{"firing", "pending", "unknown", "inactive"}

// listPageHandler serves the list: every SLO (one row per group), firing first, then by budget,
// the least (and the unknown) first; filtered by service, label and state.
func (d *Daemon) listPageHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := listFilter{Label: q.Get("label"), State: q.Get("state"), Refresh: q.Get("refresh")}
	for _, s := range q["service"] {
		if s != "" {
			f.Service = append(f.Service, s)
		}
	}
	all := d.sloViews()
	p := listPage{Status: d.statusView(), Now: d.clock.Now().UTC(), Total: len(all), Counts: map[string]int{}, States: listStates, Filter: f}
	for _, st := range listStates {
		p.Counts[st] = 0
	}
	api := url.Values{"service": f.Service}
	if f.Label != "" {
		api["label"] = []string{f.Label}
	}
	match, err := sloFilter(api)
	if err != nil {
		p.Filter.Error = err.Error()
		match = func(sloView) bool { return false }
	}
	services := map[string]bool{}
	for _, v := range all {
		services[v.Service] = true
		p.Counts[v.State]++
		if v.LowVolume {
			p.LowVolume++
		}
		if match(v) && (f.State == "" || v.State == f.State) {
			p.SLOs = append(p.SLOs, v)
		}
	}
	p.Services = slices.Sorted(maps.Keys(services))
	slices.SortStableFunc(p.SLOs, listOrder)
	d.renderPage(w, "list", web.Page{Title: "slod", Root: "./", Nav: "slos", Refreshes: true, Refresh: d.refreshEvery(r), Data: p})
}

// listOrder puts firing entries first, then the rest by budget remaining, the unknown and the
// least first (an unknown budget may be anything), then by id.
func listOrder(a, b sloView) int {
	if fa, fb := a.State == "firing", b.State == "firing"; fa != fb {
		if fa {
			return -1
		}
		return 1
	}
	if (a.BudgetRemaining == nil) != (b.BudgetRemaining == nil) {
		if a.BudgetRemaining == nil {
			return -1
		}
		return 1
	}
	if a.BudgetRemaining != nil {
		if c := cmp.Compare(*a.BudgetRemaining, *b.BudgetRemaining); c != 0 {
			return c
		}
	}
	return strings.Compare(a.ID, b.ID)
}

// detailPage is one SLO's page.
type detailPage struct {
	Status      statusView
	Now         time.Time
	D           detailView
	H           web.History
	Ranges      []rangeLink
	APIPath     string
	SilenceLink string
}

// rangeLink is one of the history ranges the page offers.
type rangeLink struct {
	Name, URL string
	Current   bool
}

// chartRanges are the ranges of the detail page's charts: the tiers' spans and the SLO's window.
var chartRanges = []struct {
	name string
	d    time.Duration
}{{"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 72 * time.Hour}, {"7d", 7 * 24 * time.Hour}}

// detailPageHandler serves one SLO's page: /slo/{service}/{name}?range=6h|1d|3d|7d|window.
func (d *Daemon) detailPageHandler(w http.ResponseWriter, r *http.Request) {
	service, name := r.PathValue("service"), r.PathValue("name")
	ref, ok := d.lookup(service + "/" + name)
	if !ok {
		d.renderPageStatus(w, http.StatusNotFound, "list", web.Page{Title: "slod: no SLO " + service + "/" + name, Root: "../../", Nav: "slos",
			Data: listPage{Status: d.statusView(), Now: d.clock.Now(), Counts: map[string]int{}, Filter: listFilter{Error: "no SLO " + service + "/" + name}}})
		return
	}
	dv, h := d.detail(ref)
	window := ref.s.slo.Period
	sel := r.URL.Query().Get("range")
	// Links are relative to the page's <base>, slod's root.
	span, base := window, "slo/"+url.PathEscape(service)+"/"+url.PathEscape(name)+"?"
	if v := r.URL.Query().Get("refresh"); v != "" {
		base += "refresh=" + url.QueryEscape(v) + "&"
	}
	p := detailPage{Status: d.statusView(), Now: d.clock.Now().UTC(), D: dv,
		APIPath: "api/v1/slos/" + url.PathEscape(service) + "/" + url.PathEscape(name), SilenceLink: silenceLink(dv.SLO)}
	for _, cr := range chartRanges {
		if cr.d >= window {
			continue
		}
		p.Ranges = append(p.Ranges, rangeLink{Name: cr.name, URL: base + "range=" + cr.name, Current: sel == cr.name})
		if sel == cr.name {
			span = cr.d
		}
	}
	p.Ranges = append(p.Ranges, rangeLink{Name: "window (" + dv.SLO.Window + ")", URL: base + "range=window", Current: span == window})
	end := ref.is.dataUntil
	p.H = d.chartData(ref, dv.SLO.ID, h, chartRange{from: end.Add(-span), to: end})
	d.renderPage(w, "detail", web.Page{Title: dv.SLO.ID + " · slod", Root: "../../", Nav: "slos", Refreshes: true, Refresh: d.refreshEvery(r), Data: p})
}

// silenceLink is the silences page with the matchers of the entry's alerts filled in, relative to
// slod's root (the pages' <base>).
func silenceLink(v sloView) string {
	q := url.Values{"matcher": {"service=" + v.Service, "slo=" + v.Name}}
	for k, val := range v.Group {
		q.Add("matcher", k+"="+val)
	}
	return "silences?" + q.Encode()
}

// silencesPage is the silences page's content.
type silencesPage struct {
	Status statusView
	// Now is slod's time, which the form counts a silence's duration from (not the browser's).
	Now      time.Time
	Silences []silenceView
	Matchers []matcherRow
	Created  string
}

// matcherRow is a matcher of the new-silence form.
type matcherRow struct{ Name, Op, Value string }

// silencesPageHandler serves the silences: every silence with its status, and the form that
// creates one through the API; ?matcher=name=value (repeatable) fills the form in.
func (d *Daemon) silencesPageHandler(w http.ResponseWriter, r *http.Request) {
	now := d.clock.Now()
	p := silencesPage{Status: d.statusView(), Now: now.UTC(), Created: r.URL.Query().Get("created")}
	for _, s := range d.silences.List() {
		p.Silences = append(p.Silences, silenceView{Silence: s, Status: s.Status(now)})
	}
	slices.SortStableFunc(p.Silences, func(a, b silenceView) int { return b.StartsAt.Compare(a.StartsAt) })
	for _, m := range r.URL.Query()["matcher"] {
		if k, v, ok := strings.Cut(m, "="); ok {
			p.Matchers = append(p.Matchers, matcherRow{Name: k, Op: "=", Value: v})
		}
	}
	if len(p.Matchers) == 0 {
		p.Matchers = []matcherRow{{Op: "="}}
	}
	d.renderPage(w, "silences", web.Page{Title: "Silences · slod", Root: "./", Nav: "silences", Data: p})
}
