package rules

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
)

const day = 24 * time.Hour

func defaults30d() []burnrate.Window {
	return []burnrate.Window{
		{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
		{Severity: burnrate.Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6},
		{Severity: burnrate.Ticket, Long: day, Short: 2 * time.Hour, BurnRate: 3},
		{Severity: burnrate.Ticket, Long: 3 * day, Short: 6 * time.Hour, BurnRate: 1},
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		want      []*SLO
		wantWarns []string
	}{
		{
			name: "every slod/v1 SLI kind with a custom policy",
			file: "chat-api.yaml",
			want: []*SLO{
				{
					Service: "chat-api", Name: "availability", Description: "Chat requests answered without a server error.",
					Objective: 0.999, Period: 30 * day,
					Labels: map[string]string{"team": "assistant", "tier": "1"},
					SLI: SLI{Kind: EventsSLI,
						ErrorQuery: `sum(rate(http_requests_total{job="chat-api",code=~"5.."}[{{.window}}]))`,
						TotalQuery: `sum(rate(http_requests_total{job="chat-api"}[{{ .window }}]))`},
					Alerting: Alerting{
						Name:        "SLOBurnRate",
						RunbookURL:  "https://runbooks.example/chat-api/availability",
						Labels:      map[string]string{"component": "chat"},
						Annotations: map[string]string{"summary": "chat-api is burning its error budget"},
						Windows: []burnrate.Window{
							{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
							{Severity: burnrate.Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6, For: 2 * time.Minute},
						},
						NoData: &burnrate.NoData{After: 15 * time.Minute, Severity: burnrate.Ticket},
					},
					Pos: Pos{File: "chat-api.yaml", Line: 5, Col: 5}, Format: "slod/v1",
				},
				{
					Service: "chat-api", Name: "latency", Objective: 0.99, Period: 30 * day,
					Labels:   map[string]string{"team": "assistant"},
					SLI:      SLI{Kind: LatencySLI, Histogram: `http_request_duration_seconds{job="chat-api"}`, Threshold: 0.3},
					Alerting: Alerting{Name: "SLOBurnRate", Windows: defaults30d()},
					Pos:      Pos{File: "chat-api.yaml", Line: 24, Col: 5}, Format: "slod/v1",
				},
				{
					Service: "chat-api", Name: "memory", Objective: 0.995, Period: 30 * day,
					Labels: map[string]string{"team": "assistant"},
					SLI: SLI{Kind: TimesliceSLI,
						Query: `max(container_memory_working_set_bytes{container="model-server"}) / max(container_spec_memory_limit_bytes{container="model-server"})`,
						Op:    OpLTE, Threshold: 0.9, Slice: time.Minute},
					Alerting: Alerting{Name: "SLOBurnRate", Windows: defaults30d()},
					Pos:      Pos{File: "chat-api.yaml", Line: 30, Col: 5}, Format: "slod/v1",
				},
			},
		},
		{
			name: "defaults: 30d period, default policy, no labels",
			file: "defaults.yaml",
			want: []*SLO{{
				Service: "search", Name: "availability", Objective: 0.9995, Period: 30 * day,
				Labels: map[string]string{},
				SLI: SLI{Kind: EventsSLI,
					ErrorQuery: `sum(rate(search_requests_total{code=~"5.."}[{{.window}}]))`,
					TotalQuery: `sum(rate(search_requests_total[{{.window}}]))`},
				Alerting: Alerting{Name: "SLOBurnRate", Windows: defaults30d()},
				Pos:      Pos{File: "defaults.yaml", Line: 4, Col: 5}, Format: "slod/v1",
			}},
		},
		{
			name: "a 7d period scales the default windows by 7/30",
			file: "weekly.yaml",
			want: []*SLO{{
				Service: "batch", Name: "freshness", Objective: 0.99, Period: 7 * day,
				Labels: map[string]string{},
				SLI:    SLI{Kind: TimesliceSLI, Query: `time() - max(batch_last_success_timestamp_seconds)`, Op: OpLT, Threshold: 3600},
				Alerting: Alerting{Name: "SLOBurnRate", Windows: []burnrate.Window{
					{Severity: burnrate.Page, Long: 14 * time.Minute, Short: 70 * time.Second, BurnRate: 14.4},
					{Severity: burnrate.Page, Long: 84 * time.Minute, Short: 7 * time.Minute, BurnRate: 6},
					{Severity: burnrate.Ticket, Long: 5*time.Hour + 36*time.Minute, Short: 28 * time.Minute, BurnRate: 3},
					{Severity: burnrate.Ticket, Long: 16*time.Hour + 48*time.Minute, Short: 84 * time.Minute, BurnRate: 1},
				}},
				Pos: Pos{File: "weekly.yaml", Line: 4, Col: 5}, Format: "slod/v1",
			}},
		},
		{
			name: "budget_percent becomes a burn rate for the 28d period; block scalars",
			file: "budget.yaml",
			want: []*SLO{{
				Service: "payments", Name: "availability", Objective: 0.999, Period: 28 * day,
				Labels: map[string]string{},
				SLI: SLI{Kind: EventsSLI,
					ErrorQuery: "sum(rate(payments_total{result=\"error\"}[{{.window}}]))\n",
					TotalQuery: `sum(rate(payments_total[{{.window}}]))`},
				Alerting: Alerting{Name: "SLOBurnRate",
					SeverityLabels: map[burnrate.Severity]map[string]string{burnrate.Page: {"channel": "payments-oncall"}},
					Windows: []burnrate.Window{
						// 2% of 28d (672h) over 1h: 0.02 × 672 = 13.44.
						{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 13.44},
						// 10% of 28d over 3d: 0.1 × 28/3.
						{Severity: burnrate.Ticket, Long: 3 * day, Short: 6 * time.Hour, BurnRate: 0.1 * 28 / 3, For: time.Hour},
					}},
				Pos: Pos{File: "budget.yaml", Line: 4, Col: 5}, Format: "slod/v1",
			}},
		},
		{
			name: "disable removes a severity from the default and from custom windows",
			file: "disable.yaml",
			want: []*SLO{
				{
					Service: "chat-api", Name: "quiet", Objective: 0.99, Period: 30 * day, Labels: map[string]string{},
					SLI:      SLI{Kind: LatencySLI, Histogram: "http_request_duration_seconds", Threshold: 1},
					Alerting: Alerting{Name: "SLOBurnRate", Windows: defaults30d()[2:]},
					Pos:      Pos{File: "disable.yaml", Line: 4, Col: 5}, Format: "slod/v1",
				},
				{
					Service: "chat-api", Name: "silent", Objective: 0.99, Period: 30 * day, Labels: map[string]string{},
					SLI:      SLI{Kind: LatencySLI, Histogram: `grpc_server_handling_seconds{grpc_service="chat"}`, Threshold: 0.25},
					Alerting: Alerting{Name: "SLOBurnRate", Windows: defaults30d()[:1]},
					Pos:      Pos{File: "disable.yaml", Line: 12, Col: 5}, Format: "slod/v1",
				},
			},
		},
		{
			name: "Sloth prometheus/v1 file: events and raw SLIs, page_alert and ticket_alert",
			file: "sloth.yaml",
			want: []*SLO{
				{
					Service: "myservice", Name: "requests-availability",
					Description: "Common SLO based on availability for HTTP request responses.",
					Objective:   0.999, Period: 30 * day,
					Labels: map[string]string{"owner": "myteam", "category": "availability"},
					SLI: SLI{Kind: EventsSLI,
						ErrorQuery: `sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))`,
						TotalQuery: `sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))`},
					Alerting: Alerting{
						Name:        "MyServiceHighErrorRate",
						Labels:      map[string]string{"category": "availability"},
						Annotations: map[string]string{"summary": "High error rate on 'myservice' requests responses"},
						SeverityLabels: map[burnrate.Severity]map[string]string{
							burnrate.Page:   {"severity": "pageteam", "routing_key": "myteam"},
							burnrate.Ticket: {"severity": "slack", "slack_channel": "#alerts-myteam"},
						},
						Windows: defaults30d(),
					},
					Pos: Pos{File: "sloth.yaml", Line: 6, Col: 5}, Format: "prometheus/v1",
				},
				{
					Service: "myservice", Name: "up", Objective: 0.99, Period: 30 * day,
					Labels:   map[string]string{"owner": "myteam"},
					SLI:      SLI{Kind: RatioSLI, ErrorRatioQuery: `1 - avg(avg_over_time(up{job="myservice"}[{{.window}}]))`},
					Alerting: Alerting{Name: "MyServiceDown", Windows: defaults30d()[2:]},
					Pos:      Pos{File: "sloth.yaml", Line: 29, Col: 5}, Format: "prometheus/v1",
				},
			},
		},
		{
			name: "anchors, aliases and merge keys; explicit keys override merged ones",
			file: "anchors.yaml",
			want: []*SLO{
				{
					Service: "shop", Name: "checkout", Objective: 0.999, Period: 30 * day,
					Labels: map[string]string{"team": "shop", "tier": "2"},
					SLI: SLI{Kind: EventsSLI,
						ErrorQuery: `sum(rate(checkout_total{result="error"}[{{.window}}]))`,
						TotalQuery: `sum(rate(checkout_total[{{.window}}]))`},
					Alerting: Alerting{Name: "SLOBurnRate", RunbookURL: "https://runbooks.example/shop", Windows: defaults30d()[:2]},
					Pos:      Pos{File: "anchors.yaml", Line: 4, Col: 5}, Format: "slod/v1",
				},
				{
					Service: "shop", Name: "cart", Objective: 0.99, Period: 30 * day,
					Labels: map[string]string{"team": "shop", "tier": "1"},
					SLI: SLI{Kind: EventsSLI,
						ErrorQuery: `sum(rate(cart_total{result="error"}[{{.window}}]))`,
						TotalQuery: `sum(rate(cart_total[{{.window}}]))`},
					Alerting: Alerting{Name: "SLOBurnRate", RunbookURL: "https://runbooks.example/shop/cart", Windows: defaults30d()[:2]},
					Pos:      Pos{File: "anchors.yaml", Line: 14, Col: 5}, Format: "slod/v1",
				},
			},
		},
		{
			name: "a raw SLI, a pair whose short window is its long one, a page without resolves",
			file: "raw.yaml",
			want: []*SLO{{
				Service: "wifi", Name: "satisfaction", Objective: 0.95, Period: 30 * day, Labels: map[string]string{},
				SLI: SLI{Kind: RatioSLI, ErrorRatioQuery: `1 - avg(avg_over_time(client_satisfaction_ratio[{{.window}}]))`},
				Alerting: Alerting{Name: "SLOBurnRate", Windows: []burnrate.Window{
					{Severity: burnrate.Page, Long: time.Hour, Short: time.Hour, BurnRate: 10},
					{Severity: burnrate.Ticket, Long: day, Short: 2 * time.Hour, BurnRate: 2},
				}, NoResolve: map[burnrate.Severity]bool{burnrate.Page: true}},
				Pos: Pos{File: "raw.yaml", Line: 4, Col: 5}, Format: "slod/v1",
			}},
		},
		{
			name: "a window pair that can never fire is a warning, not an error",
			file: "never-fires.yaml",
			want: []*SLO{{
				Service: "toy", Name: "loose", Objective: 0.9, Period: 30 * day, Labels: map[string]string{},
				SLI: SLI{Kind: EventsSLI,
					ErrorQuery: `sum(rate(toy_errors_total[{{.window}}]))`,
					TotalQuery: `sum(rate(toy_requests_total[{{.window}}]))`},
				Alerting: Alerting{Name: "SLOBurnRate", Windows: []burnrate.Window{
					{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
					{Severity: burnrate.Ticket, Long: day, Short: 2 * time.Hour, BurnRate: 3},
				}},
				Pos: Pos{File: "never-fires.yaml", Line: 4, Col: 5}, Format: "slod/v1",
			}},
			wantWarns: []string{
				"never-fires.yaml:12:11: warning: slos[0].alerting.windows[0]: page window pair 1h/5m can never fire: burn rate 14.4 × error budget 0.1 = 1.44 ≥ 1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/valid", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, warns, err := Parse(tt.file, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d SLOs, want %d", len(got), len(tt.want))
			}
			lines := strings.Split(string(data), "\n")
			for i := range got {
				// Source is the entry as written from its line (TestSLOSource checks its end).
				g := *got[i]
				if first, _, _ := strings.Cut(g.Source, "\n"); first != lines[g.Pos.Line-1] {
					t.Errorf("SLO %d: Source starts with %q, want line %d: %q", i, first, g.Pos.Line, lines[g.Pos.Line-1])
				}
				g.Source = ""
				g.Places = Places{} // where things are written: TestCheckStep
				if !reflect.DeepEqual(&g, tt.want[i]) {
					t.Errorf("SLO %d:\ngot  %+v\nwant %+v", i, g, *tt.want[i])
				}
			}
			var gotWarns []string
			for _, w := range warns {
				gotWarns = append(gotWarns, w.Warning())
			}
			if !reflect.DeepEqual(gotWarns, tt.wantWarns) {
				t.Errorf("warnings:\ngot  %q\nwant %q", gotWarns, tt.wantWarns)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name      string
		paths     []string
		wantIDs   []string
		wantFiles []string
		wantErr   string
	}{
		{
			name:      "directories are walked recursively, in order, skipping test files, hidden directories and non-YAML",
			paths:     []string{"testdata/load/ok"},
			wantIDs:   []string{"alpha/availability", "beta/latency"},
			wantFiles: []string{"testdata/load/ok/a.yaml", "testdata/load/ok/sub/b.yml"},
		},
		{
			name:      "a file named twice is loaded once",
			paths:     []string{"testdata/load/ok/a.yaml", "testdata/load/ok"},
			wantIDs:   []string{"alpha/availability", "beta/latency"},
			wantFiles: []string{"testdata/load/ok/a.yaml", "testdata/load/ok/sub/b.yml"},
		},
		{
			name:  "a test file named explicitly is an error",
			paths: []string{"testdata/load/ok/tests/a_test.yaml"},
			wantErr: "testdata/load/ok/tests/a_test.yaml:1:1: this is a slod test file (it has rule_files or tests), " +
				"not an SLO file: run it with slod test",
		},
		{
			name:    "duplicate SLO ids across files point at both",
			paths:   []string{"testdata/load/dup"},
			wantErr: `testdata/load/dup/b.yaml:8:5: duplicate SLO id "alpha/availability": first defined at testdata/load/dup/a.yaml:4:5`,
		},
		{
			name:    "a missing path",
			paths:   []string{"testdata/load/nonexistent"},
			wantErr: "testdata/load/nonexistent: reading rules: no such file or directory",
		},
		{
			name:  "every error of every file",
			paths: []string{"testdata/load/bad", "testdata/load/nonexistent"},
			wantErr: strings.Join([]string{
				"testdata/load/nonexistent: reading rules: no such file or directory",
				"testdata/load/bad/one.yaml:5:16: slos[0].objective: must be a percentage between 0 and 100 (exclusive), got 101",
				"testdata/load/bad/one.yaml:7:50: slos[0].sli.latency.threshold: must be a positive number of seconds, got 0",
				`testdata/load/bad/two.yaml:6:13: slos[0].window: invalid duration "1x": use a Prometheus duration such as 5m, 1h or 30d`,
				"testdata/load/bad/two.yaml:8:33: slos[0].sli.timeslice.query: invalid PromQL: unclosed left parenthesis",
				`testdata/load/bad/two.yaml:8:40: slos[0].sli.timeslice.op: must be one of lt, lte, gt, gte, got "eq"`,
			}, "\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(tt.paths)
			if tt.wantErr != "" {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("Load error = %v, want Errors", err)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("Load error:\ngot  %s\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var ids []string
			for _, s := range set.SLOs {
				ids = append(ids, s.ID())
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("SLO ids = %q, want %q", ids, tt.wantIDs)
			}
			if !reflect.DeepEqual(set.Files, tt.wantFiles) {
				t.Errorf("files = %q, want %q", set.Files, tt.wantFiles)
			}
		})
	}
}
