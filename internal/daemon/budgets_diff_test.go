package daemon

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// diffBudgets adds the budget features of issue 17 to a differential case's SLO, drawn from an
// RNG of their own so that the traffic, gaps and failures of every seed stay what they were: the
// low-traffic guard (at the file or the SLO level), budget alerts, exclusions (one span, or one
// recurring every hour), and a calendar month that starts inside the case (in a time zone 1 or 2 hours behind UTC, the case's time 0 being
// midnight UTC on January 1st, 1970).
func diffBudgets(seed uint64, rulesYML string) string {
	r := rand.New(rand.NewPCG(seed, 0xb0d6e7))
	var file, alerting []string
	if r.IntN(3) == 0 {
		guard := fmt.Sprintf("min_bad_events: %d", 1+r.IntN(30))
		if r.IntN(2) == 0 {
			file = append(file, guard)
		} else {
			alerting = append(alerting, guard)
		}
	}
	if r.IntN(2) == 0 {
		// The case's SLOs have a 1d window and an objective of 90 to 99%: a budget from 20% left
		// to 50% overspent is crossed both ways within the case's three hours.
		alerting = append(alerting, "budget:",
			fmt.Sprintf("  - {severity: ticket, below: %d%%}", 20+r.IntN(70)),
			fmt.Sprintf("  - {severity: page, below: %d%%}", -50+r.IntN(60)))
	}
	if r.IntN(3) == 0 {
		start := diffTime(r.IntN(diffMinutes)).Add(time.Duration(r.IntN(60)) * time.Second).Format(time.RFC3339)
		excl := fmt.Sprintf("  - {name: maintenance, start: %q, duration: %dm}", start, 5+r.IntN(60))
		if r.IntN(2) == 0 {
			excl = fmt.Sprintf("  - {name: hourly, start: %q, duration: %dm, rrule: FREQ=HOURLY}", start, 5+r.IntN(20))
		}
		file = append(file, "exclusions:", excl)
	}
	if r.IntN(3) == 0 {
		rulesYML = strings.Replace(rulesYML, "    window: 1d\n",
			fmt.Sprintf("    calendar: {period: month, time_zone: Etc/GMT+%d}\n", 1+r.IntN(2)), 1)
	}
	return insertYAML(rulesYML, file, alerting)
}

// insertYAML adds lines at the top level of a differential case's rules and to its SLO's alerting.
func insertYAML(rulesYML string, file, alerting []string) string {
	const top, al = "service: diff\n", "      no_data: {after: 10m, severity: ticket}\n"
	var f, a strings.Builder
	for _, l := range file {
		f.WriteString(l + "\n")
	}
	for _, l := range alerting {
		a.WriteString("      " + l + "\n")
	}
	rulesYML = strings.Replace(rulesYML, top, top+f.String(), 1)
	rulesYML = strings.Replace(rulesYML, al, al+a.String(), 1)
	return rulesYML
}

// countBudget counts the transitions of budget alerts, for the case's log line.
func countBudget(trs []diffTransition) int {
	n := 0
	for _, tr := range trs {
		if strings.HasSuffix(tr.Alert, "(budget)") {
			n++
		}
	}
	return n
}
