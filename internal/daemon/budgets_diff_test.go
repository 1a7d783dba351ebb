package daemon

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// diffBudgets adds the budget features of issue 17 to a differential case's SLO, drawn from an
// RNG of their own so that the traffic, gaps and failures of every seed stay what they were: the
// low-traffic guard (at the file or the SLO level).
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
	return insertYAML(rulesYML, file, alerting)
}

// insertYAML adds lines at the top level of a differential case's rules and to its SLO's alerting.
func insertYAML(rulesYML string, file, alerting []string) string {
	const top, al = "service: diff\n", "      no_data: {after: 10m, severity: ticket}\n"
	for _, l := range file {
		rulesYML = strings.Replace(rulesYML, top, top+l+"\n", 1)
	}
	for _, l := range alerting {
		rulesYML = strings.Replace(rulesYML, al, al+"      "+l+"\n", 1)
	}
	return rulesYML
}
