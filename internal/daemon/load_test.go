package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/rules"
)

// TestRoutesCheckedAtLoad: an alert no route takes is refused when the daemon starts and when it
// reloads (the running config stays), at the SLO's alerting section, instead of one warning when
// it fires; together with every other problem of the config and the rules.
func TestRoutesCheckedAtLoad(t *testing.T) {
	h := newHarness(t)
	cfgPath := filepath.Join(h.dir, "slod.yml")
	good, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, strings.Replace(string(good), "  - {match: {severity: ticket}, receiver: pd}\n", "", 1))
	err := h.d.Reload()
	want := "shop.yaml:13:7: slos[0].alerting: no route of " + cfgPath + " (at " + cfgPath + ":10:3) takes the no-data alert (ticket) of shop/availability, labelled {severity=\"ticket\"}: add one, or remove alerting.no_data"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("reload: %v\nwant ...%s", err, want)
	}
	if h.d.rt.cfg.Routes[1].Receiver != "pd" || !strings.Contains(h.logs.String(), "reload failed; keeping the running config") {
		t.Error("the running config was not kept")
	}

	// At start: every problem at once, the config's, the rules' step and the routes', one each.
	writeFile(t, cfgPath, strings.Replace(string(good), "evaluation: {interval: 1m, backfill: 2h}", "evaluation: {interval: 1m, backfill: 2h, step: 2m, bogus: 1}", 1)+
		"  - {match: {severity: page, team: ops}, receiver: hook}\n")
	writeFile(t, cfgPath, strings.Replace(readFile(t, cfgPath), "  - {match: {severity: page}, receiver: hook}\n", "", 1))
	h.close()
	_, err = New(context.Background(), Options{ConfigFile: cfgPath, StoragePath: filepath.Join(h.dir, "data")})
	var errs rules.Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("start: %v, want three problems", err)
	}
	for i, w := range []string{
		"slod.yml:2:52: evaluation.bogus: unknown field",
		"shop.yaml:14:45: slos[0].alerting.windows[0].short: 5m is not a multiple of the evaluation step 2m",
		`shop.yaml:13:7: slos[0].alerting: no route of ` + cfgPath + ` (at ` + cfgPath + `:10:3) takes the page alerts of shop/availability, labelled {severity="page", team="web"}: add one, or turn them off with alerting.page: {disable: true}`,
	} {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("problem %d: %s\nwant %s", i, errs[i], w)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckRoutesGroups: a grouped SLO's group labels come with its data, so a route on one of
// them (model: m1) may take its alerts; a severity no route takes at all is still an error.
func TestCheckRoutesGroups(t *testing.T) {
	slos, _, err := rules.Parse("gw.yaml", []byte(`version: slod/v1
service: gw
slos:
  - name: avail
    objective: 99
    group_by: [model]
    sli:
      events:
        error_query: sum by (model) (rate(req_total{code="500"}[{{.window}}]))
        total_query: sum by (model) (rate(req_total[{{.window}}]))
`))
	if err != nil {
		t.Fatal(err)
	}
	const receivers = "prometheus: {url: \"http://127.0.0.1:1\"}\nrules: [x]\nreceivers: [{name: hook, webhook: {url: \"http://127.0.0.1:1/\"}}]\n"
	for routes, want := range map[string]string{
		"routes:\n  - {match: {severity: page, model: m1}, receiver: hook}\n  - {match: {severity: ticket}, receiver: hook}\n": "",
		"routes:\n  - {match: {severity: page, model: m1}, receiver: hook}\n":                                                  `gw.yaml:4:5: slos[0]: no route of slod.yml (at slod.yml:5:3) takes the ticket alerts of gw/avail, labelled {model="", severity="ticket"}: add one, or turn them off with alerting.ticket: {disable: true}`,
	} {
		cfg, err := config.Parse("slod.yml", []byte(receivers+routes))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if errs := CheckRoutes(cfg, slos); errs != nil {
			got = errs.Error()
		}
		if got != want {
			t.Errorf("routes\n%s: errors\n%s\nwant\n%s", routes, got, want)
		}
	}
}

// TestCheckRoutesSlothSeverity: a Sloth file's page_alert.labels.severity: pageteam is delivered,
// but routing inside slod matches the tier, so routes {severity: page} take its pages.
func TestCheckRoutesSlothSeverity(t *testing.T) {
	slos, _, err := rules.Parse("sloth.yaml", []byte(`version: prometheus/v1
service: emb
slos:
  - name: avail
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      name: EmbAvail
      page_alert: {labels: {severity: pageteam}}
      ticket_alert: {labels: {severity: slack}}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("slod.yml", []byte("prometheus: {url: \"http://127.0.0.1:1\"}\nrules: [x]\nreceivers: [{name: hook, webhook: {url: \"http://127.0.0.1:1/\"}}]\n"+
		"routes:\n  - {match: {severity: page}, receiver: hook}\n  - {match: {severity: ticket}, receiver: hook}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := CheckRoutes(cfg, slos); errs != nil {
		t.Errorf("errors:\n%s", errs)
	}
}
