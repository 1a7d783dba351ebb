package check

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/rules"
)

// Report is what `slod check` found: the evaluation range and every SLO's backtest.
type Report struct {
	// From and To are the first and last evaluation times (multiples of Step).
	From, To time.Time
	Step     time.Duration
	Results  []eval.Result
}

// number is a float printed rounded to a fixed number of decimals, so the JSON says 0.999 and not
// 0.9990000000000001, and 950.1 rather than 950.0943396226415.
type number struct {
	v        float64
	decimals int
}

// Number is a float that JSON prints rounded to a fixed number of decimals, null when it is NaN
// or infinite (unknown): slod check's numbers, for the other reports that print them alike
// (slod check --compare).
type Number = number

// NewNumber is v, printed rounded to decimals places.
func NewNumber(v float64, decimals int) Number { return number{v, decimals} }

func (n number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(n.v) || math.IsInf(n.v, 0) {
		return []byte("null"), nil
	}
	return []byte(formatRounded(n.v, n.decimals)), nil
}

// FormatNumber prints v rounded to decimals places, without trailing zeros: 0.999 rather than
// 0.9990000000000001, 950.1 rather than 950.0943396226415.
func FormatNumber(v float64, decimals int) string { return formatRounded(v, decimals) }

// formatRounded prints v rounded to decimals places, without trailing zeros.
func formatRounded(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// Precision of the printed numbers: objectives are exact ratios given in percent with a few
// decimals; budgets (BudgetDecimals of a ratio) to a hundredth of a percent; burn rates to a
// hundredth, which is well inside the noise of any real SLI.
const (
	objectiveDecimals = 10
	BudgetDecimals    = 4
	burnDecimals      = 2
)

// FormatBudget prints a budget (a ratio: 1 untouched, negative overspent) as a percentage to a
// hundredth of a percent, as slod check's reports do: 50%, -99%, 12.34%.
func FormatBudget(r float64) string { return formatRounded(r*100, BudgetDecimals-2) + "%" }

type jsonReport struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	Step string    `json:"step"`
	SLOs []jsonSLO `json:"slos"`
}

type jsonSLO struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	// Group is the group's labels, for a group of a grouped SLO; GroupsNotEvaluated the groups
	// past its max_groups.
	Group              map[string]string `json:"group,omitempty"`
	GroupsNotEvaluated []string          `json:"groups_not_evaluated,omitempty"`
	Objective          number            `json:"objective"`
	Window             string            `json:"window"`
	BudgetRemaining    number            `json:"budget_remaining"`
	HasData            bool              `json:"has_data"`
	Alerts             []jsonAlert       `json:"alerts"`
	// Error is what went wrong with this SLO (Failed), or the first step held for a value no SLI
	// can have.
	Error string `json:"error,omitempty"`
	// Exclusions is how many minutes of the range the SLO's exclusions covered.
	Exclusions number `json:"exclusions"`
	// Suppressed is how many alert intervals the SLO's min_bad_events guard suppressed.
	Suppressed int `json:"suppressed"`
	// Calendar is the period of a calendar SLO ("month (Europe/Berlin)"); Periods the periods
	// that ended in the range, with the budget left at the end of each.
	Calendar string       `json:"calendar,omitempty"`
	Periods  []jsonPeriod `json:"periods,omitempty"`
}

type jsonPeriod struct {
	Start           string `json:"start"`
	End             string `json:"end"`
	BudgetRemaining number `json:"budget_remaining"`
}

type jsonAlert struct {
	Severity string `json:"severity"`
	NoData   bool   `json:"no_data,omitempty"`
	// Budget marks a budget alert: the budget remaining when it fired and its threshold.
	Budget          bool        `json:"budget,omitempty"`
	BudgetRemaining *number     `json:"budget_remaining,omitempty"`
	BudgetBelow     *number     `json:"budget_below,omitempty"`
	Start           string      `json:"start"`
	End             *string     `json:"end"`
	Duration        string      `json:"duration"`
	PeakBurnRate    number      `json:"peak_burn_rate"`
	Reason          *jsonReason `json:"reason,omitempty"`
}

type jsonReason struct {
	Long      string `json:"long"`
	Short     string `json:"short"`
	BurnRate  number `json:"burn_rate"`
	LongBurn  number `json:"long_burn_rate"`
	ShortBurn number `json:"short_burn_rate"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// FormatDuration prints a duration the way SLO files spell it (1m, 1h30m, 7d, 30d): Prometheus
// units, but days rather than weeks and years, since SLO periods are counted in days.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

// AlertEnd is the interval's end, or to (the report's last evaluation time) for an alert still
// firing: where its duration ends.
func AlertEnd(a eval.AlertInterval, to time.Time) time.Time {
	if a.End != nil {
		return *a.End
	}
	return to
}

// WriteJSON writes the report as the one JSON object of docs/interfaces.md §2, with a few extra
// keys: the SLO's window, has_data (false when the recording holds nothing the SLO reads;
// budget_remaining is then null), and per alert no_data (the SLO's no-data alert), duration and
// reason (the window pair).
func WriteJSON(w io.Writer, r Report) error {
	out := jsonReport{From: formatTime(r.From), To: formatTime(r.To), Step: FormatDuration(r.Step), SLOs: []jsonSLO{}}
	for _, res := range r.Results {
		s := jsonSLO{
			Service:            res.SLO.Service,
			Name:               res.SLO.Name,
			Group:              res.Group,
			GroupsNotEvaluated: res.Excess,
			Objective:          number{res.SLO.Objective, objectiveDecimals},
			Window:             FormatDuration(res.SLO.Period),
			BudgetRemaining:    number{res.Final.BudgetRemaining, BudgetDecimals},
			HasData:            res.HasData,
			Alerts:             []jsonAlert{},
			Suppressed:         res.Suppressed,
			Exclusions:         number{res.Excluded.Minutes(), burnDecimals},
		}
		if cal := res.SLO.Calendar; cal != nil {
			s.Calendar = cal.String()
		}
		for _, p := range res.Periods {
			jp := jsonPeriod{Start: formatTime(p.Start), End: formatTime(p.End), BudgetRemaining: number{p.BudgetRemaining, BudgetDecimals}}
			if p.NoData {
				jp.BudgetRemaining.v = math.NaN()
			}
			s.Periods = append(s.Periods, jp)
		}
		if !res.HasData {
			// Nothing was measured: the budget is unknown, not spent.
			s.BudgetRemaining.v = math.NaN()
		}
		s.Error = Problem(res)
		for _, a := range res.Alerts {
			ja := jsonAlert{
				Severity:     string(a.Severity),
				NoData:       a.NoData,
				Start:        formatTime(a.Start),
				Duration:     FormatDuration(AlertEnd(a, r.To).Sub(a.Start)),
				PeakBurnRate: number{a.PeakBurnRate, burnDecimals},
			}
			if a.End != nil {
				e := formatTime(*a.End)
				ja.End = &e
			}
			if a.Budget {
				ja.Budget = true
				ja.BudgetRemaining = &number{a.Reason.Budget, BudgetDecimals}
				ja.BudgetBelow = &number{a.Reason.Threshold, BudgetDecimals}
			}
			if !a.NoData && !a.Budget {
				ja.Reason = &jsonReason{
					Long:      FormatDuration(a.Reason.Window.Long),
					Short:     FormatDuration(a.Reason.Window.Short),
					BurnRate:  number{a.Reason.Window.BurnRate, burnDecimals},
					LongBurn:  number{a.Reason.LongBurn, burnDecimals},
					ShortBurn: number{a.Reason.ShortBurn, burnDecimals},
				}
			}
			s.Alerts = append(s.Alerts, ja)
		}
		out.SLOs = append(out.SLOs, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the JSON report: %w", err)
	}
	return nil
}

// WriteText writes the report for people: one block per SLO with its objective, the budget left at
// the end, and the timeline of its alerts, or what went wrong with it.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	c := Count(r.Results)
	slos := "SLOs"
	if len(r.Results) == 1 {
		slos = "SLO"
	}
	fmt.Fprintf(&b, "slod check: %d %s evaluated every %s from %s to %s\n", len(r.Results), slos, FormatDuration(r.Step), formatTime(r.From), formatTime(r.To))
	fmt.Fprintf(&b, "%d paged, %d ticketed, %d quiet", c.Paged, c.Ticketed, c.Quiet)
	if c.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", c.Failed)
	}
	b.WriteByte('\n')
	ordered := Ordered(r.Results)
	for i, res := range ordered {
		slo := res.SLO
		if len(res.Excess) > 0 && (i == 0 || ordered[i-1].SLO != slo) {
			fmt.Fprintf(&b, "\nwarning: %s has %d groups past its max_groups (%d), not evaluated: %s\n", slo.ID(), len(res.Excess), slo.MaxGroups, strings.Join(res.Excess, ", "))
		}
		over := FormatDuration(slo.Period)
		if slo.Calendar != nil {
			over = "the calendar " + slo.Calendar.String()
		}
		fmt.Fprintf(&b, "\n%s%s  objective %s%% over %s\n", slo.ID(), res.GroupKey, formatRounded(slo.Objective*100, objectiveDecimals-2), over)
		if !Failed(res) {
			writeTextSLO(&b, res, r.To)
		}
		if p := Problem(res); p != "" {
			fmt.Fprintf(&b, "  error: %s\n", p)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// writeTextSLO writes the budget and the alert timeline of one evaluated SLO.
func writeTextSLO(b *strings.Builder, res eval.Result, to time.Time) {
	if !res.HasData {
		b.WriteString("  no data: the data holds nothing this SLO reads\n")
		return
	}
	fmt.Fprintf(b, "  budget remaining %s at %s\n", FormatBudget(res.Final.BudgetRemaining), formatTime(to))
	if res.Excluded > 0 {
		fmt.Fprintf(b, "  exclusions covered %s of the range (neither bad nor total events there)\n", FormatDuration(res.Excluded))
	}
	for _, p := range res.Periods {
		left := "unknown (no data)"
		if !p.NoData {
			left = FormatBudget(p.BudgetRemaining)
		}
		fmt.Fprintf(b, "  period %s → %s ended with budget remaining %s\n", formatTime(p.Start), formatTime(p.End), left)
	}
	if g := res.SLO.Alerting.MinBadEvents; g > 0 {
		fmt.Fprintf(b, "  min_bad_events %s suppressed %s\n", formatRounded(g, burnDecimals), plural(res.Suppressed, "alert interval"))
	}
	if len(res.Alerts) == 0 {
		b.WriteString("  no alerts\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, a := range res.Alerts {
		end := "still firing"
		if a.End != nil {
			end = formatTime(*a.End)
		}
		sev := string(a.Severity)
		why := fmt.Sprintf("%s/%s windows above %s× (long %s×, short %s×)",
			FormatDuration(a.Reason.Window.Long), FormatDuration(a.Reason.Window.Short),
			formatRounded(a.Reason.Window.BurnRate, burnDecimals),
			formatRounded(a.Reason.LongBurn, burnDecimals), formatRounded(a.Reason.ShortBurn, burnDecimals))
		peak := "peak burn " + formatRounded(a.PeakBurnRate, burnDecimals) + "×"
		switch {
		case a.NoData:
			sev += " (no data)"
			why, peak = "the SLI returned no data", ""
		case a.Budget:
			sev += " (budget)"
			why, peak = "budget "+FormatBudget(a.Reason.Budget)+" below "+FormatBudget(a.Reason.Threshold), ""
		}
		fmt.Fprintf(tw, "  %s\t%s → %s\t%s\t%s\t%s\n", sev, formatTime(a.Start), end,
			FormatDuration(AlertEnd(a, to).Sub(a.Start)), peak, why)
	}
	tw.Flush()
}

// Failed reports whether the SLO could not be evaluated at all (its Result holds nothing but the
// error).
func Failed(res eval.Result) bool {
	return res.Err != nil && res.Alerts == nil && res.Final.At.IsZero()
}

// Problem is what went wrong with an SLO (or group) of a backtest, "" when nothing did: its error,
// or the first step held for a value no SLI can have (+Inf). `slod check` exits 1 when any has one.
func Problem(res eval.Result) string {
	switch {
	case res.Err != nil:
		return res.Err.Error()
	case res.DataError != "":
		return res.DataError + " (held as a step without data)"
	}
	return ""
}

// plural is n with noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Ordered returns the results for reading: SLOs in their order, the groups of a grouped SLO under
// it, worst budget first (those without data last).
func Ordered(results []eval.Result) []eval.Result {
	out := slices.Clone(results)
	first := map[*rules.SLO]int{}
	for i, r := range out {
		if _, ok := first[r.SLO]; !ok {
			first[r.SLO] = i
		}
	}
	budget := func(r eval.Result) float64 {
		if !r.HasData {
			return math.Inf(1)
		}
		return r.Final.BudgetRemaining
	}
	slices.SortStableFunc(out, func(a, b eval.Result) int {
		if a.SLO != b.SLO {
			return first[a.SLO] - first[b.SLO]
		}
		return cmp.Compare(budget(a), budget(b))
	})
	return out
}

// Counts is how the SLOs (and groups) of a backtest fared.
type Counts struct {
	// Paged, Ticketed and Quiet classify the evaluated ones by their worst alert: any page, tickets
	// only, no alert at all.
	Paged, Ticketed, Quiet int
	// Failed are those that could not be evaluated.
	Failed int
}

// Count classifies the SLOs (and groups) of a backtest.
func Count(results []eval.Result) Counts {
	var c Counts
	for _, res := range results {
		if Failed(res) {
			c.Failed++
			continue
		}
		worst := ""
		for _, a := range res.Alerts {
			if a.Severity == burnrate.Page {
				worst = "page"
			} else if worst == "" {
				worst = "ticket"
			}
		}
		switch worst {
		case "page":
			c.Paged++
		case "ticket":
			c.Ticketed++
		default:
			c.Quiet++
		}
	}
	return c
}
