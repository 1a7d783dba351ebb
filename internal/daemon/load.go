package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/rules"
)

// LoadConfig reads the daemon config at path and the rule files it names and checks them together,
// offline, as `slod run` does at start and at every reload and `slod validate --config.file` does:
// the problems of the config file and of the rule files, the windows its evaluation step cannot
// represent (rules.CheckStep) and the alerts no route sends anywhere (CheckRoutes). rulePaths, when
// not nil, are the rule files to check instead of the config's own (slod validate and slod check
// with RULES and --config.file). The error is a rules.Errors holding all of them, each with its
// file:line:col, unless the config file could not be read at all.
func LoadConfig(path string, rulePaths []string) (*config.Config, *rules.Set, error) {
	var errs rules.Errors
	cfg, err := config.Load(path)
	if err != nil {
		if cfg == nil || !errors.As(err, &errs) {
			return nil, nil, fmt.Errorf("loading %s: %w", path, err)
		}
		// The config has problems but says where the rules are: theirs are reported as well.
	}
	paths := rulePaths
	if paths == nil {
		if !cfg.Clean("rules") {
			return nil, nil, errs
		}
		if paths, err = cfg.RulePaths(); err != nil {
			// A bad glob, which the config's own check has reported.
			return nil, nil, append(errs, rules.Diagnostic{Pos: cfg.Pos("rules"), Field: "rules", Message: err.Error()})
		}
	}
	set, err := rules.Load(paths)
	var rerrs rules.Errors
	switch {
	case errors.As(err, &rerrs):
		errs = append(errs, rerrs...)
	case err != nil:
		errs = append(errs, rules.Diagnostic{Pos: cfg.Pos("rules"), Field: "rules", Message: err.Error()})
	case len(set.SLOs) == 0:
		// A daemon without SLOs would run, answer ready and page for nothing: a rules path typo
		// must stop it at start, and a reload to an empty set keeps the running rules.
		errs = append(errs, rules.Diagnostic{Pos: cfg.Pos("rules"), Field: "rules", Message: fmt.Sprintf(
			"rules %s hold no SLO (%d files read): slod run needs at least one", strings.Join(paths, ", "), len(set.Files))})
	default:
		if cfg.Clean("evaluation.step") {
			errs = append(errs, rules.CheckStep(set.SLOs, cfg.Evaluation.Step.D())...)
		}
		if cfg.Clean("receivers") && cfg.Clean("routes") {
			errs = append(errs, CheckRoutes(cfg, set.SLOs)...)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return cfg, set, nil
}

// CheckRoutes reports every alert of slos that no route of cfg sends to a receiver: a page, a ticket
// or a no-data alert that would otherwise be noticed only when it fires, by one line in the log. The
// labels routed are those routing matches (notify.FromTransition, Notification.MatchLabels: the
// severity is the tier even where the file labels it otherwise), so a route that matches on a team
// label is checked as it will be used. A grouped SLO's group labels are known only from its data: a
// route matching on one may take some of its groups, and counts. A config without routes (and so
// without receivers) sends nothing by design, and is not checked. Each error is at the SLO's
// alerting section.
func CheckRoutes(cfg *config.Config, slos []*rules.SLO) rules.Errors {
	if len(cfg.Routes) == 0 {
		return nil
	}
	var keys []string // the labels routes match on, to show them
	for _, r := range cfg.Routes {
		keys = append(keys, slices.Collect(maps.Keys(r.Match))...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	routesAt := cfg.Pos("routes")
	var errs rules.Errors
	for _, slo := range slos {
		for _, a := range alertsOf(slo) {
			n, _ := notify.FromTransition(slo, nil, burnrate.Transition{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget,
				From: burnrate.Pending, To: burnrate.Firing}, burnrate.Status{}, "")
			match := n.MatchLabels()
			if routed(cfg.Routes, match, slo.GroupBy) {
				continue
			}
			what, fix := fmt.Sprintf("the %s alerts", a.Severity), fmt.Sprintf("or turn them off with alerting.%s: {disable: true}", a.Severity)
			switch {
			case a.NoData:
				what, fix = fmt.Sprintf("the no-data alert (%s)", a.Severity), "or remove alerting.no_data"
			case a.Budget:
				what, fix = fmt.Sprintf("the %s budget alert", a.Severity), "or remove it from alerting.budget"
			}
			p := slo.Places.Alerting
			if p.Pos.File == "" {
				p.Pos = slo.Pos
			}
			errs = append(errs, rules.Diagnostic{Pos: p.Pos, Field: p.Field, Message: fmt.Sprintf(
				"no route of %s (at %s) takes %s of %s, labelled %s: add one, %s",
				cfg.File, routesAt, what, slo.ID(), matchedLabels(match, keys), fix)})
		}
	}
	return errs
}

// routed reports whether a route matches an alert with labels, as receiver.Router does, a match on
// one of the group labels counting as a match (its groups are not known before their data).
func routed(routes []receiver.Route, labels map[string]string, groupBy []string) bool {
next:
	for _, r := range routes {
		for k, v := range r.Match {
			if labels[k] != v && !slices.Contains(groupBy, k) {
				continue next
			}
		}
		return true
	}
	return false
}

// alertsOf lists the alerts an SLO can raise: a burn-rate alert per severity of its windows, and its
// no-data alert.
func alertsOf(slo *rules.SLO) []burnrate.AlertState {
	var out []burnrate.AlertState
	for _, w := range slo.Alerting.Windows {
		if !slices.ContainsFunc(out, func(a burnrate.AlertState) bool { return a.Severity == w.Severity }) {
			out = append(out, burnrate.AlertState{Severity: w.Severity})
		}
	}
	for _, b := range slo.Alerting.Budget {
		out = append(out, burnrate.AlertState{Severity: b.Severity, Budget: true})
	}
	if nd := slo.Alerting.NoData; nd != nil {
		out = append(out, burnrate.AlertState{Severity: nd.Severity, NoData: true})
	}
	return out
}

// matchedLabels prints the labels among keys of an alert, as a route would match them:
// {severity="ticket", team="web"}.
func matchedLabels(labels map[string]string, keys []string) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// LogErrors logs err at level error with msg. When err holds several problems (rules.Errors: the
// config's and the rules' problems, each with its file:line:col), msg is logged once with their
// number, and then each problem as a record of its own, its message the problem itself: they are
// read one per line and all at once.
func LogErrors(log *slog.Logger, msg string, err error) {
	var errs rules.Errors
	if !errors.As(err, &errs) {
		log.Error(msg, "err", err)
		return
	}
	log.Error(msg, "problems", len(errs))
	for _, e := range errs {
		log.Error(e.Error())
	}
}
