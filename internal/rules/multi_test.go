package rules

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"
)

// TestEveryErrorReported checks that one run reports every problem of a file riddled with them,
// each at its own position, rather than stopping at the first.
func TestEveryErrorReported(t *testing.T) {
	const file = "testdata/multi/many.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Parse(file, data)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error = %v, want Errors", err)
	}
	want := []string{
		"2:10 service",
		"3:10 labels",
		"6:16 slos[0].objective",
		"7:13 slos[0].window",
		"10:22 slos[0].sli.events.error_query",
		"11:59 slos[0].sli.events.total_query",
		"13:20 slos[0].alerting.runbook_url",
		"15:22 slos[0].alerting.windows[0].severity",
		"15:49 slos[0].alerting.windows[0].short",
		"15:64 slos[0].alerting.windows[0].burn_rate",
		"16:24 slos[0].alerting.no_data.after",
		"16:38 slos[0].alerting.no_data.severity",
		"17:11 slos[1].name",
		"20:7 slos[1].sli",
		"22:5 slos[2].objective",
		"22:11 slos[2].name",
		"23:5 slos[2].objectve",
		"25:18 slos[2].sli.timeslice.threshold",
		"25:41 slos[2].sli.timeslice.op",
		"25:53 slos[2].sli.timeslice.slice",
	}
	var got []string
	for _, d := range errs {
		if d.Pos.File != file {
			t.Errorf("diagnostic %q names file %q", d.Error(), d.Pos.File)
		}
		got = append(got, fmt.Sprintf("%d:%d %s", d.Pos.Line, d.Pos.Col, d.Field))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %d errors:\n%s\nwant %d:\n%q", len(got), err, len(want), want)
	}
}
