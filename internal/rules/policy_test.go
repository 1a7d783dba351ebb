package rules

import (
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/yamlx"
	"gopkg.in/yaml.v3"
)

func TestDefaultWindows(t *testing.T) {
	tests := []struct {
		name   string
		period time.Duration
		want   []burnrate.Window
	}{
		{name: "30d is the workbook table", period: 30 * day, want: defaults30d()},
		{
			name: "28d scales by 28/30", period: 28 * day,
			want: []burnrate.Window{
				{Severity: burnrate.Page, Long: 56 * time.Minute, Short: 280 * time.Second, BurnRate: 14.4},
				{Severity: burnrate.Page, Long: 5*time.Hour + 36*time.Minute, Short: 28 * time.Minute, BurnRate: 6},
				{Severity: burnrate.Ticket, Long: 22*time.Hour + 24*time.Minute, Short: 112 * time.Minute, BurnRate: 3},
				{Severity: burnrate.Ticket, Long: 67*time.Hour + 12*time.Minute, Short: 5*time.Hour + 36*time.Minute, BurnRate: 1},
			},
		},
		{
			name: "1y does not overflow", period: 365 * day,
			want: []burnrate.Window{
				{Severity: burnrate.Page, Long: 12*time.Hour + 10*time.Minute, Short: 60*time.Minute + 50*time.Second, BurnRate: 14.4},
				{Severity: burnrate.Page, Long: 73 * time.Hour, Short: 6*time.Hour + 5*time.Minute, BurnRate: 6},
				{Severity: burnrate.Ticket, Long: 292 * time.Hour, Short: 24*time.Hour + 20*time.Minute, BurnRate: 3},
				{Severity: burnrate.Ticket, Long: 876 * time.Hour, Short: 73 * time.Hour, BurnRate: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultWindows(tt.period)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d windows, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("window %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestRatiosPrintCleanly checks that derived numbers print as written, not as float noise such as
// 0.9990000000000001: they end up in JSON output and on pages.
func TestRatiosPrintCleanly(t *testing.T) {
	objectives := []struct{ percent, want string }{
		{"99.9", "0.999"}, {"99.95", "0.9995"}, {"99", "0.99"}, {"99.99", "0.9999"},
		{"90", "0.9"}, {"99.999", "0.99999"}, {"0.1", "0.001"}, {"97.5", "0.975"},
	}
	for _, tt := range objectives {
		t.Run("objective "+tt.percent, func(t *testing.T) {
			if got := strconv.FormatFloat(objectiveRatio(exact(t, tt.percent)), 'g', -1, 64); got != tt.want {
				t.Errorf("objectiveRatio(%s) prints as %s, want %s", tt.percent, got, tt.want)
			}
		})
	}
	budgets := []struct {
		percent      string
		period, long time.Duration
		want         string
	}{
		{"2", 30 * day, time.Hour, "14.4"},
		{"5", 30 * day, 6 * time.Hour, "6"},
		{"10", 30 * day, day, "3"},
		{"10", 30 * day, 3 * day, "1"},
		{"2", 28 * day, time.Hour, "13.44"},
		{"0.5", 7 * day, 30 * time.Minute, "1.68"},
	}
	for _, tt := range budgets {
		t.Run("budget "+tt.percent+"% over "+tt.long.String(), func(t *testing.T) {
			if got := strconv.FormatFloat(budgetBurnRate(exact(t, tt.percent), tt.period, tt.long), 'g', -1, 64); got != tt.want {
				t.Errorf("burn rate = %s, want %s", got, tt.want)
			}
		})
	}
}

func exact(t *testing.T, s string) *big.Rat {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	_, r, err := yamlx.Number(n.Content[0])
	if err != nil {
		t.Fatalf("%s is not a number: %v", s, err)
	}
	return r
}
