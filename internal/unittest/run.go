package unittest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/yamlx"
)

// epoch is time 0 of every test: input series start there and eval_time counts from there, as in
// promtool. It is also a multiple of every evaluation interval, so the grid needs no alignment.
var epoch = time.Unix(0, 0).UTC()

// Options tune a run.
type Options struct {
	// Lookback bridges scrape gaps in counters; zero is the default of package sli (10m), the same
	// as `slod check` and the daemon.
	Lookback time.Duration
	// Run, when set, selects the tests whose names it matches (promtool test rules --run); the
	// others are skipped and not counted.
	Run *regexp.Regexp
}

// Summary counts what a run did. A test fails when any of its assertions fails or it cannot be
// run (an unknown SLO id, a series the engine rejects); Errors counts files that could not be
// read, decoded or whose rule files did not load.
type Summary struct {
	Files            int
	Tests            int
	FailedTests      int
	Assertions       int
	FailedAssertions int
	Errors           int
}

// OK reports whether every test of every file passed.
func (s Summary) OK() bool { return s.FailedTests == 0 && s.Errors == 0 }

// String is the last line `slod test` prints.
func (s Summary) String() string {
	if s.OK() {
		return fmt.Sprintf("SUCCESS: %s, %s", plural(s.Tests, "test"), plural(s.Assertions, "assertion"))
	}
	var parts []string
	if s.Tests > 0 {
		parts = append(parts, fmt.Sprintf("%d of %s, %d of %s", s.FailedTests, plural(s.Tests, "test"), s.FailedAssertions, plural(s.Assertions, "assertion")))
	}
	if s.Errors > 0 {
		parts = append(parts, plural(s.Errors, "file")+" with errors")
	}
	return "FAILED: " + strings.Join(parts, "; ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// FindTestFiles expands the command-line arguments: a file is taken as it is, a directory
// contributes every *.yaml and *.yml file directly inside it, in lexical order. Subdirectories are
// not entered, so that fixtures kept below a test directory are not run by accident.
func FindTestFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading test files: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("reading test directory: %w", err)
		}
		n := len(out)
		for _, e := range entries {
			if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
				if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
					out = append(out, filepath.Join(p, e.Name()))
				}
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("reading test directory %s: no *.yaml or *.yml files", p)
		}
	}
	return out, nil
}

// Run runs every test of every file and writes one line per failure (file:line:col of the
// assertion, test name, what was expected and what was got) and a summary line to w.
func Run(ctx context.Context, files []string, w io.Writer, opt Options) Summary {
	var sum Summary
	for _, path := range files {
		sum.Files++
		runFile(ctx, path, w, opt, &sum)
	}
	fmt.Fprintln(w, sum.String())
	return sum
}

func runFile(ctx context.Context, path string, w io.Writer, opt Options, sum *Summary) {
	f, err := ReadFile(path)
	if err != nil {
		sum.Errors++
		var es Errors
		if errors.As(err, &es) {
			fmt.Fprintln(w, es.Error())
		} else {
			fmt.Fprintf(w, "%s: %v\n", path, err)
		}
		return
	}
	set, err := rules.Load(f.RuleFiles)
	if err != nil {
		sum.Errors++
		fmt.Fprintf(w, "%s: loading rule_files:\n%v\n", path, err)
		return
	}
	// The SLOs are evaluated at the file's evaluation_interval, which must be able to represent
	// their windows, as evaluation.step must in the daemon.
	if errs := rules.CheckStep(set.SLOs, f.EvaluationInterval); errs != nil {
		sum.Errors++
		fmt.Fprintf(w, "%s: rule_files at the evaluation_interval %s:\n%v\n", path, model.Duration(f.EvaluationInterval), errs)
		return
	}
	byID := make(map[string]*rules.SLO, len(set.SLOs))
	for _, s := range set.SLOs {
		byID[s.ID()] = s
	}
	for i := range f.Tests {
		t := &f.Tests[i]
		if opt.Run != nil && !opt.Run.MatchString(t.Name) {
			continue
		}
		sum.Tests++
		sum.Assertions += len(t.AlertTests) + len(t.BudgetTests)
		failures, err := runTest(ctx, f, t, byID, opt)
		if err != nil {
			sum.FailedTests++
			sum.FailedAssertions += len(t.AlertTests) + len(t.BudgetTests)
			var es Errors
			var e Error
			switch {
			case errors.As(err, &es):
				for _, e := range es {
					fmt.Fprintf(w, "%s: test %q: %s: %s\n", e.Pos, t.Name, e.Field, e.Message)
				}
			case errors.As(err, &e):
				fmt.Fprintf(w, "%s: test %q: %s: %s\n", e.Pos, t.Name, e.Field, e.Message)
			default:
				fmt.Fprintf(w, "%s: test %q: %v\n", t.Pos, t.Name, err)
			}
			continue
		}
		if len(failures) > 0 {
			sum.FailedTests++
			// One assertion can fail in several ways (labels and annotations): count it once.
			failed := map[rules.Pos]bool{}
			for _, fl := range failures {
				failed[fl.pos] = true
			}
			sum.FailedAssertions += len(failed)
			for _, fl := range failures {
				fmt.Fprintf(w, "%s: test %q: FAILED: %s\n", fl.pos, t.Name, fl.message)
				for _, d := range fl.details {
					fmt.Fprintf(w, "    %s\n", d)
				}
			}
		}
	}
}

// failure is one failed assertion: where it is, what differed, and burn-rate details that help
// see why.
type failure struct {
	pos     rules.Pos
	message string
	details []string
}

// observation is what the engine said about one SLO at one evaluation time.
type observation struct {
	state  burnrate.State
	status burnrate.Status
}

// obsKey names an observation: the SLO, the group's key (rules.GroupKey; "" for an SLO without
// group_by) and the evaluation time.
type obsKey struct {
	id, group string
	at        time.Duration
}

// runTest loads the test's series into a recorded DB and evaluates the SLOs its assertions name
// with eval.Backtest over recorded.NewQuerier, exactly as `slod check` evaluates recorded data, then
// compares the observed state at each eval_time with the expectations. An assertion naming an SLO
// the rule files do not define is a failure of its own; the others are evaluated as usual.
func runTest(ctx context.Context, f *File, t *Test, byID map[string]*rules.SLO, opt Options) ([]failure, error) {
	slos, wanted, last, unknown := testedSLOs(f, t, byID)
	if len(slos) == 0 {
		return unknown, nil
	}
	db, err := loadSeries(t)
	if err != nil {
		return nil, err
	}
	seen, err := observe(ctx, db, slos, wanted, last, f.EvaluationInterval, opt)
	if err != nil {
		return nil, err
	}
	failures := append(unknown, alertFailures(t, seen, byID)...)
	return append(failures, budgetFailures(t, seen, byID)...), nil
}

// testedSLOs returns the SLOs the test's assertions name, the (SLO, time) pairs they look at and
// the last of those times, and a failure for every assertion that names an SLO the rule files do
// not define, at its slo field, with the closest id when it looks like a typo.
func testedSLOs(f *File, t *Test, byID map[string]*rules.SLO) ([]*rules.SLO, map[obsKey]bool, time.Duration, []failure) {
	var slos []*rules.SLO
	wanted := map[obsKey]bool{}
	var last time.Duration
	var unknown []failure
	need := func(kind, id string, pos rules.Pos, field string, at time.Duration) {
		slo, ok := byID[id]
		if !ok {
			msg := fmt.Sprintf("%s at %s: %s: unknown SLO %q", kind, formatOffset(at), field, id)
			if c := yamlx.Closest(id, slices.Sorted(maps.Keys(byID))); c != "" {
				msg += fmt.Sprintf(", did you mean %s?", c)
			}
			unknown = append(unknown, failure{pos: pos, message: msg + fmt.Sprintf(" (%s defines %s)", strings.Join(relPaths(f), ", "), knownIDs(byID))})
			return
		}
		if !containsSLO(slos, slo) {
			slos = append(slos, slo)
		}
		wanted[obsKey{id: id, at: at}] = true
		last = max(last, at)
	}
	for _, a := range t.AlertTests {
		need("alert_test", a.SLO, a.SLOPos, a.fieldPath+".slo", a.EvalTime)
	}
	for _, b := range t.BudgetTests {
		need("budget_test", b.SLO, b.SLOPos, b.fieldPath+".slo", b.EvalTime)
	}
	return slos, wanted, last, unknown
}

// loadSeries loads the test's input series into a recorded DB, on the test's sample grid.
func loadSeries(t *Test) (*recorded.DB, error) {
	db := recorded.NewDB()
	for _, s := range t.InputSeries {
		ps := s.parsed
		if ps == nil { // decoded by hand rather than by Decode
			p, err := parseSeries(s)
			if err != nil {
				return nil, err
			}
			ps = &p
		}
		ts, vs := ps.samples(t.Interval)
		if len(ts) == 0 {
			continue
		}
		if err := db.Add(ps.labels, ts, vs); err != nil {
			return nil, Error{Pos: s.Pos, Field: s.fieldPath, Message: fmt.Sprintf("loading series: %v", err)}
		}
	}
	return db, nil
}

// observations are what the engine said at the wanted (SLO, time) pairs, per instance (the SLO,
// or each of its groups).
type observations struct {
	byKey map[obsKey]observation
	// groups are the group keys of each grouped SLO present at each wanted time, in key order.
	groups map[obsKey][]string
}

// observe backtests slos from time 0 to last at every step and keeps what the engine said at the
// wanted (SLO, time) pairs.
func observe(ctx context.Context, db *recorded.DB, slos []*rules.SLO, wanted map[obsKey]bool, last, step time.Duration, opt Options) (observations, error) {
	var mu sync.Mutex
	seen := observations{byKey: make(map[obsKey]observation, len(wanted)), groups: map[obsKey][]string{}}
	obs := func(inst *eval.Instance, at time.Time, st burnrate.State, status burnrate.Status) {
		k := obsKey{id: inst.SLO.ID(), at: at.Sub(epoch)}
		if !wanted[k] {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if inst.Key != "" {
			seen.groups[k] = append(seen.groups[k], inst.Key)
		}
		k.group = inst.Key
		seen.byKey[k] = observation{state: st, status: status}
	}
	_, err := eval.Backtest(ctx, recorded.NewQuerier(db), slos, epoch, epoch.Add(last),
		eval.Options{Step: step, Lookback: opt.Lookback, DataStart: epoch}, obs)
	if err != nil {
		return observations{}, fmt.Errorf("evaluating: %w", err)
	}
	return seen, nil
}

// at returns what the engine said of the SLO id (the group given, for a grouped SLO) at the time
// at, or why there is nothing to compare with.
func (o observations) at(what, id string, group map[string]string, at time.Duration, slo *rules.SLO) (observation, string) {
	key := ""
	if group != nil {
		key = rules.GroupKey(group)
	}
	prefix := fmt.Sprintf("%s at %s for %s", what, formatOffset(at), named(id, group))
	present := o.groups[obsKey{id: id, at: at}]
	switch {
	case len(slo.GroupBy) == 0 && group != nil:
		return observation{}, fmt.Sprintf("%s: the SLO has no group_by; remove group %s", prefix, key)
	case len(slo.GroupBy) > 0 && group == nil:
		return observation{}, fmt.Sprintf("%s: the SLO is grouped by %s; say which group (group: {%s: ...}); groups at that time: %s",
			prefix, strings.Join(slo.GroupBy, ", "), slo.GroupBy[0], listOrNone(present))
	}
	ob, ok := o.byKey[obsKey{id: id, group: key, at: at}]
	switch {
	case !ok && group != nil:
		return observation{}, fmt.Sprintf("%s: no group %s at that time; groups: %s", prefix, key, listOrNone(present))
	case !ok:
		return observation{}, prefix + ": the engine did not evaluate at that time"
	}
	return ob, ""
}

func listOrNone(keys []string) string {
	if len(keys) == 0 {
		return "none (no series has had data yet)"
	}
	return strings.Join(keys, ", ")
}

// alertFailures compares the firing alerts at each alert_test's time, and the labels and
// annotations a receiver would get, with the expectations.
func alertFailures(t *Test, seen observations, byID map[string]*rules.SLO) []failure {
	var failures []failure
	for _, a := range t.AlertTests {
		if byID[a.SLO] == nil {
			continue // a failure of its own (testedSLOs)
		}
		o, why := seen.at("alert_test", a.SLO, a.Group, a.EvalTime, byID[a.SLO])
		if why != "" {
			failures = append(failures, failure{pos: a.Pos, message: why})
			continue
		}
		exp := make([]AlertID, len(a.ExpAlerts))
		for i, e := range a.ExpAlerts {
			exp[i] = e.AlertID
		}
		exp = sortedAlerts(exp)
		firingNow := firing(o.state)
		got := make([]AlertID, 0, len(firingNow))
		for id := range firingNow {
			got = append(got, id)
		}
		got = sortedAlerts(got)
		if !sameAlerts(exp, got) {
			failures = append(failures, failure{
				pos:     a.Pos,
				message: fmt.Sprintf("alert_test at %s for %s: expected %s, got %s", formatOffset(a.EvalTime), named(a.SLO, a.Group), formatAlerts(exp), formatAlerts(got)),
				details: details(byID[a.SLO], o),
			})
			continue
		}
		failures = append(failures, labelFailures(a, firingNow, o, byID[a.SLO])...)
	}
	return failures
}

// labelFailures compares the labels and annotations of the expected alerts of a with what a
// receiver would get.
func labelFailures(a AlertTest, firingNow map[AlertID]burnrate.AlertState, o observation, slo *rules.SLO) []failure {
	var failures []failure
	for _, e := range a.ExpAlerts {
		if len(e.Labels) == 0 && len(e.Annotations) == 0 {
			continue
		}
		labels, annotations := delivered(slo, a.Group, firingNow[e.AlertID], o.status, epoch.Add(a.EvalTime))
		prefix := fmt.Sprintf("alert_test at %s for %s: alert %s: ", formatOffset(a.EvalTime), named(a.SLO, a.Group), e.AlertID)
		if !subset(e.Labels, labels) {
			failures = append(failures, failure{pos: a.Pos, message: prefix + fmt.Sprintf("expected labels %s, got %s", formatMap(e.Labels), formatMap(labels))})
		}
		if !subset(e.Annotations, annotations) {
			failures = append(failures, failure{pos: a.Pos, message: prefix + fmt.Sprintf("expected annotations %s, got %s", formatMap(e.Annotations), formatMap(annotations))})
		}
	}
	return failures
}

// budgetFailures compares the budget remaining at each budget_test's time with the expectation.
func budgetFailures(t *Test, seen observations, byID map[string]*rules.SLO) []failure {
	var failures []failure
	for _, b := range t.BudgetTests {
		if byID[b.SLO] == nil {
			continue // a failure of its own (testedSLOs)
		}
		o, why := seen.at("budget_test", b.SLO, b.Group, b.EvalTime, byID[b.SLO])
		switch {
		case why != "":
			failures = append(failures, failure{pos: b.Pos, message: why})
		case o.status.LastData.IsZero():
			failures = append(failures, failure{pos: b.Pos, message: fmt.Sprintf("budget_test at %s for %s: expected budget remaining %s, got no data", formatOffset(b.EvalTime), named(b.SLO, b.Group), formatFloat(b.ExpBudgetRemaining))})
		default:
			got := o.status.BudgetRemaining
			if !(math.Abs(got-b.ExpBudgetRemaining) <= b.Tolerance) {
				failures = append(failures, failure{
					pos: b.Pos,
					message: fmt.Sprintf("budget_test at %s for %s: expected budget remaining %s ± %s, got %s",
						formatOffset(b.EvalTime), named(b.SLO, b.Group), formatFloat(b.ExpBudgetRemaining), formatFloat(b.Tolerance), formatFloat(got)),
					details: []string{fmt.Sprintf("error ratio over the period: %s (objective %s)", formatFloat(o.status.ErrorRatio), formatFloat(byID[b.SLO].Objective))},
				})
			}
		}
	}
	return failures
}

// firing is the set of alerts in phase firing; pending alerts do not count, as in promtool.
func firing(st burnrate.State) map[AlertID]burnrate.AlertState {
	out := map[AlertID]burnrate.AlertState{}
	for _, a := range st.Alerts {
		if a.Phase == burnrate.Firing {
			out[AlertID{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget}] = a
		}
	}
	return out
}

// delivered is the labels and annotations a receiver gets for a firing alert: built by
// notify.FromTransition, the function the daemon uses, so that a test of a label tests what the
// receiver gets (a severity label of the SLO file included; slod's own routes match the tier). Annotations include the summary and description as rendered (with their
// defaults) and the runbook URL.
func delivered(slo *rules.SLO, group map[string]string, a burnrate.AlertState, status burnrate.Status, at time.Time) (labels, annotations map[string]string) {
	tr := burnrate.Transition{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget, From: burnrate.Pending, To: burnrate.Firing,
		At: at, FiredAt: a.FiredAt, Reason: a.Reason, PeakBurnRate: a.PeakBurnRate}
	n, _ := notify.FromTransition(slo, group, tr, status, "")
	annotations = maps.Clone(n.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	for k, v := range map[string]string{"summary": n.Summary, "description": n.Description, "runbook_url": n.RunbookURL} {
		if v != "" {
			annotations[k] = v
		}
	}
	return n.Labels, annotations
}

// subset reports whether every key of want is in got with the same value.
func subset(want, got map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// formatMap prints labels or annotations in PromQL's label-set notation, sorted by name.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sameAlerts(a, b []AlertID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func formatAlerts(as []AlertID) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// details explains a failed alert_test with the numbers the engine decided on: every window pair
// of the policy with its burn rates and, from the alert state, whether and since when it holds;
// then each alert that is pending or firing. A wrong expectation and a wrong rule can be told apart
// without rerunning anything.
func details(slo *rules.SLO, o observation) []string {
	if o.status.LastData.IsZero() {
		return []string{"no data yet"}
	}
	burn := make(map[time.Duration]float64, len(o.status.Windows))
	for _, wb := range o.status.Windows {
		burn[wb.Window] = wb.BurnRate
	}
	states := map[burnrate.Severity]burnrate.AlertState{}
	for _, a := range o.state.Alerts {
		if !a.NoData && !a.Budget {
			states[a.Severity] = a
		}
	}
	var out []string
	index := map[burnrate.Severity]int{} // position of a pair among its severity's, as in PairSince
	for _, w := range slo.Alerting.Windows {
		j := index[w.Severity]
		index[w.Severity]++
		line := fmt.Sprintf("%s %s/%s: burn rates %s/%s, threshold %s", w.Severity, model.Duration(w.Long), model.Duration(w.Short),
			formatFloat(burn[w.Long]), formatFloat(burn[w.Short]), formatFloat(w.BurnRate))
		if w.For > 0 {
			line += fmt.Sprintf(" for %s", model.Duration(w.For))
		}
		if st, ok := states[w.Severity]; ok && j < len(st.PairSince) && !st.PairSince[j].IsZero() {
			line += ", holds since " + formatOffset(st.PairSince[j].Sub(epoch))
		}
		out = append(out, line)
	}
	for _, b := range slo.Alerting.Budget {
		out = append(out, fmt.Sprintf("%s budget alert below %s: budget remaining %s", b.Severity, formatFloat(b.Below), formatFloat(o.status.BudgetRemaining)))
	}
	for _, a := range o.state.Alerts {
		name := AlertID{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget}.String()
		switch {
		case a.Phase == burnrate.Firing && a.Budget:
			out = append(out, fmt.Sprintf("%s firing since %s: budget %s below %s", name, formatOffset(a.FiredAt.Sub(epoch)),
				formatFloat(a.Reason.Budget), formatFloat(a.Reason.Threshold)))
		case a.Phase == burnrate.Firing && a.NoData:
			out = append(out, fmt.Sprintf("%s firing: no data since %s", name, formatOffset(a.ActiveAt.Sub(epoch))))
		case a.Phase == burnrate.Firing:
			out = append(out, fmt.Sprintf("%s firing since %s", name, formatOffset(a.FiredAt.Sub(epoch))))
		case a.Phase == burnrate.Pending && a.NoData:
			out = append(out, fmt.Sprintf("%s pending: no data since %s", name, formatOffset(a.ActiveAt.Sub(epoch))))
		case a.Phase == burnrate.Pending:
			out = append(out, fmt.Sprintf("%s pending since %s", name, formatOffset(a.ActiveAt.Sub(epoch))))
		}
	}
	return out
}

// formatOffset prints an offset from time 0 the way test files write eval_time: in minutes when it
// is a whole number of them (promtool users write 122m, not 2h2m), else as a Prometheus duration.
func formatOffset(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return model.Duration(d).String()
}

// formatFloat prints a float without binary noise (never 0.0009999999999999432).
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func containsSLO(list []*rules.SLO, s *rules.SLO) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func knownIDs(byID map[string]*rules.SLO) string {
	if len(byID) == 0 {
		return "no SLOs"
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

func relPaths(f *File) []string {
	out := make([]string, len(f.RuleFiles))
	for i, p := range f.RuleFiles {
		out[i] = filepath.ToSlash(p)
	}
	return out
}

// named is an SLO id with the group's key, for messages: gw/avail{model="m2"}.
func named(id string, group map[string]string) string {
	if group == nil {
		return id
	}
	return id + rules.GroupKey(group)
}
