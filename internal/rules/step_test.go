package rules

import (
	"strings"
	"testing"
	"time"
)

const stepFile = `version: slod/v1
service: svc
slos:
  - name: explicit
    objective: 99
    sli: &events
      events:
        error_query: sum(rate(e[{{.window}}]))
        total_query: sum(rate(t[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 1h, short: 10s, burn_rate: 14.4}
        - {severity: ticket, long: 6h, short: 90s, burn_rate: 6}
  - name: day
    objective: 99
    window: 1d
    sli: *events
  - name: week
    objective: 99
    window: 7d
    sli: *events
  - name: slices
    objective: 99
    window: 30d
    sli:
      timeslice: {query: max(x), op: lte, threshold: 1, slice: 30s}
  - name: page-off
    objective: 99
    window: 1d
    sli: *events
    alerting:
      page: {disable: true}
`

const stepSloth = `version: prometheus/v1
service: sloth
slos:
  - name: avail
    objective: 99
    sli:
      events:
        error_query: sum(rate(e[{{.window}}]))
        total_query: sum(rate(t[{{.window}}]))
    alerting:
      page_alert: {labels: {severity: pageteam}}
`

// TestCheckStep: windows and slices that the evaluation step cannot represent are errors at the
// place they are written (they used to be rounded to whole steps without a word): a 10s short
// window at a 1m step, the 5m page window at a 10m step. The default policy's windows scaled to
// the SLO's window are reported at that window when shorter than a step; longer ones (70s for 7d)
// are read in whole steps.
func TestCheckStep(t *testing.T) {
	slos, _, err := Parse("slos.yaml", []byte(stepFile))
	if err != nil {
		t.Fatal(err)
	}
	sloth, _, err := Parse("sloth.yaml", []byte(stepSloth))
	if err != nil {
		t.Fatal(err)
	}
	slos = append(slos, sloth...)
	tests := []struct {
		step time.Duration
		want []string
	}{
		{time.Second, nil},
		{time.Minute, []string{
			"slos.yaml:12:45: slos[0].alerting.windows[0].short: 10s is shorter than the evaluation step 1m: a window is a sum of whole steps",
			"slos.yaml:13:47: slos[0].alerting.windows[1].short: 1m30s is not a multiple of the evaluation step 1m: a window is a sum of whole steps (it would be read as 2m)",
			"slos.yaml:16:13: slos[1].window: the default policy's page short window (5m at 30d) is 10s for an SLO window of 1d, shorter than the evaluation step 1m: set a longer window, alerting.windows, or a shorter step",
			"slos.yaml:26:64: slos[3].sli.timeslice.slice: time slice 30s is not a multiple of the evaluation step 1m: a slice ends on a step",
		}},
		{10 * time.Minute, nil},
	}
	for _, tc := range tests {
		t.Run(tc.step.String(), func(t *testing.T) {
			errs := CheckStep(slos, tc.step)
			if tc.step == 10*time.Minute {
				// Too many to list them all: every SLO's 5m window is reported, the page-off SLO's
				// ticket windows only.
				t.Log(errs.Error())
				for _, want := range []string{
					"slos.yaml:12:45: slos[0].alerting.windows[0].short: 10s is shorter than the evaluation step 10m",
					"slos.yaml:20:13: slos[2].window: the default policy's page short window (5m at 30d) is 1m10s for an SLO window of 7d, shorter",
					"slos.yaml:29:13: slos[4].window: the default policy's ticket short window (2h at 30d) is 4m for an SLO window of 1d, shorter",
					"sloth.yaml:4:5: slos[0]: the default policy's page short window (5m at 30d) is 5m for an SLO window of 30d, shorter than the evaluation step 10m",
				} {
					if !strings.Contains(errs.Error(), want) {
						t.Errorf("errors lack %q", want)
					}
				}
				for _, not := range []string{"slos.yaml:12:25: slos[0].alerting.windows[0].long", "slos[4].window: the default policy's page"} {
					if strings.Contains(errs.Error(), not) {
						t.Errorf("errors say %q: a window of whole steps, or of a disabled severity", not)
					}
				}
				return
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestCheckStepPeriod: the SLO's window is summed over whole steps too; where the file does not
// write it, the SLO is the place.
func TestCheckStepPeriod(t *testing.T) {
	slos, _, err := Parse("slos.yaml", []byte(stepFile))
	if err != nil {
		t.Fatal(err)
	}
	errs := CheckStep(slos, 7*time.Minute).Error()
	for _, want := range []string{
		"slos.yaml:4:5: slos[0]: 30d is not a multiple of the evaluation step 7m: the error budget is summed over whole steps",
		"slos.yaml:24:13: slos[3].window: 30d is not a multiple of the evaluation step 7m",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
}

// TestCheckStepWithoutPlaces: an SLO built in code, not read from a file, is reported at its Pos.
func TestCheckStepWithoutPlaces(t *testing.T) {
	slo := &SLO{Service: "s", Name: "n", Period: 30 * day, Pos: Pos{File: "x.yaml", Line: 3, Col: 5}}
	slo.Alerting.Windows = DefaultWindows(time.Hour)
	errs := CheckStep([]*SLO{slo}, time.Minute)
	if len(errs) == 0 || errs[0].Pos != slo.Pos {
		t.Fatalf("errors %v, want them at %v", errs, slo.Pos)
	}
}
