package rules

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/yamlx"
)

// The schemas of the two file formats, declared once: yamlx decodes a file into them (unknown and
// duplicate keys, wrong types and missing required fields are reported there, each at its place),
// and parse.go checks what the types cannot say and builds the model. Pointers are fields that
// may be absent; they stay nil when the value is absent or did not decode.

// v1File is a `version: slod/v1` file.
type v1File struct {
	Version string            `yaml:"version" yamlx:"required"`
	Service string            `yaml:"service" yamlx:"required"`
	Labels  map[string]string `yaml:"labels"`
	// MinBadEvents is the low-traffic guard of every SLO of the file that sets none.
	MinBadEvents *decimal `yaml:"min_bad_events"`
	// Exclusions apply to every SLO of the file.
	Exclusions []*exclusionSpec `yaml:"exclusions"`
	SLOs       []*v1SLO         `yaml:"slos" yamlx:"required"`
}

// exclusionSpec is a span that does not count (planned maintenance, known bad data).
type exclusionSpec struct {
	Name     *string        `yaml:"name" yamlx:"required"`
	Start    *timestamp     `yaml:"start" yamlx:"required"`
	Duration *time.Duration `yaml:"duration" yamlx:"required"`
	RRule    *string        `yaml:"rrule"`
	TimeZone *string        `yaml:"time_zone"`
}

// timestamp is an RFC 3339 time.
type timestamp struct{ t time.Time }

// UnmarshalYAML implements yaml.Unmarshaler (yamlx reports the error at the value).
func (ts *timestamp) UnmarshalYAML(n *yaml.Node) error {
	s, err := yamlx.String(n)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("must be an RFC 3339 time such as 2026-10-04T05:30:00Z, got %q", s)
	}
	ts.t = t
	return nil
}

type v1SLO struct {
	Name        *string           `yaml:"name" yamlx:"required"`
	Description string            `yaml:"description"`
	Objective   *decimal          `yaml:"objective" yamlx:"required"`
	Window      *time.Duration    `yaml:"window"`
	Calendar    *calendarSpec     `yaml:"calendar"`
	Exclusions  []*exclusionSpec  `yaml:"exclusions"`
	Labels      map[string]string `yaml:"labels"`
	GroupBy     []string          `yaml:"group_by"`
	MaxGroups   *int              `yaml:"max_groups"`
	SLI         *v1SLI            `yaml:"sli" yamlx:"required"`
	Alerting    *v1Alerting       `yaml:"alerting"`
}

// calendarSpec is a calendar-aligned period, instead of a rolling window.
type calendarSpec struct {
	Period   *string `yaml:"period" yamlx:"required"`
	TimeZone *string `yaml:"time_zone"`
}

// v1SLI holds exactly one kind of SLI.
type v1SLI struct {
	Events    *eventsSpec    `yaml:"events"`
	Latency   *latencySpec   `yaml:"latency"`
	Timeslice *timesliceSpec `yaml:"timeslice"`
	Raw       *rawSpec       `yaml:"raw"`
}

type eventsSpec struct {
	ErrorQuery *string `yaml:"error_query" yamlx:"required"`
	TotalQuery *string `yaml:"total_query" yamlx:"required"`
}

type latencySpec struct {
	Histogram *string  `yaml:"histogram" yamlx:"required"`
	Threshold *decimal `yaml:"threshold" yamlx:"required"`
}

type timesliceSpec struct {
	Query     *string        `yaml:"query" yamlx:"required"`
	Op        *string        `yaml:"op" yamlx:"required"`
	Threshold *decimal       `yaml:"threshold" yamlx:"required"`
	Slice     *time.Duration `yaml:"slice"`
}

type v1Alerting struct {
	Name        *string           `yaml:"name"`
	RunbookURL  *string           `yaml:"runbook_url"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	Page        *v1SeveritySpec   `yaml:"page"`
	Ticket      *v1SeveritySpec   `yaml:"ticket"`
	Windows     []*windowSpec     `yaml:"windows"`
	NoData      *noDataSpec       `yaml:"no_data"`
	// MinBadEvents: a window pair fires only when its long window holds at least this many bad
	// events.
	MinBadEvents *decimal `yaml:"min_bad_events"`
	// Budget are the alerts on the budget remaining.
	Budget []*budgetSpec `yaml:"budget"`
}

// budgetSpec is one budget alert: {severity: ticket, below: 25%}.
type budgetSpec struct {
	Severity *string  `yaml:"severity" yamlx:"required"`
	Below    *percent `yaml:"below" yamlx:"required"`
}

// severitySpec is Sloth's page_alert / ticket_alert, and what slod/v1's page and ticket share
// with them.
type severitySpec struct {
	Disable     *bool             `yaml:"disable"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// v1SeveritySpec is a page or ticket section of a slod/v1 file.
type v1SeveritySpec struct {
	Disable      *bool             `yaml:"disable"`
	Labels       map[string]string `yaml:"labels"`
	Annotations  map[string]string `yaml:"annotations"`
	SendResolved *bool             `yaml:"send_resolved"`
}

type windowSpec struct {
	Severity      *string        `yaml:"severity" yamlx:"required"`
	Long          *time.Duration `yaml:"long" yamlx:"required"`
	Short         *time.Duration `yaml:"short" yamlx:"required"`
	BurnRate      *decimal       `yaml:"burn_rate"`
	BudgetPercent *decimal       `yaml:"budget_percent"`
	For           *time.Duration `yaml:"for"`
}

type noDataSpec struct {
	After    *time.Duration `yaml:"after" yamlx:"required"`
	Severity *string        `yaml:"severity"`
}

// slothFile is a Sloth `version: "prometheus/v1"` file, read unchanged.
type slothFile struct {
	Version    string            `yaml:"version" yamlx:"required"`
	Service    string            `yaml:"service" yamlx:"required"`
	Labels     map[string]string `yaml:"labels"`
	SLOs       []*slothSLO       `yaml:"slos" yamlx:"required"`
	SLOPlugins *yaml.Node        `yaml:"slo_plugins"`
}

type slothSLO struct {
	Name        *string           `yaml:"name" yamlx:"required"`
	Description string            `yaml:"description"`
	Objective   *decimal          `yaml:"objective" yamlx:"required"`
	Labels      map[string]string `yaml:"labels"`
	SLI         *slothSLI         `yaml:"sli" yamlx:"required"`
	Alerting    *slothAlerting    `yaml:"alerting"`
	Plugins     *yaml.Node        `yaml:"plugins"`
}

type slothSLI struct {
	Events *eventsSpec `yaml:"events"`
	Raw    *rawSpec    `yaml:"raw"`
	Plugin *yaml.Node  `yaml:"plugin"`
}

type rawSpec struct {
	ErrorRatioQuery *string `yaml:"error_ratio_query" yamlx:"required"`
}

type slothAlerting struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	PageAlert   *severitySpec     `yaml:"page_alert"`
	TicketAlert *severitySpec     `yaml:"ticket_alert"`
}

// decimal is a number with its exact decimal value (yamlx.Decimal), so that ratios computed from
// it (99.9 → 0.999) are the nearest float64.
type decimal = yamlx.Decimal

// percent is a percentage written as 25% (or as the number 25), with its exact value.
type percent struct{ decimal }

// UnmarshalYAML implements yaml.Unmarshaler (yamlx reports the error at the value).
func (p *percent) UnmarshalYAML(n *yaml.Node) error {
	n = yamlx.Resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		num, ok := strings.CutSuffix(strings.TrimSpace(n.Value), "%")
		r, okr := new(big.Rat).SetString(strings.TrimSpace(num))
		if !ok || !okr {
			return fmt.Errorf("must be a percentage such as 25%%, got %q", n.Value)
		}
		f, _ := r.Float64()
		*p = percent{decimal{F: f, R: r, Text: n.Value}}
		return nil
	}
	if err := p.decimal.UnmarshalYAML(n); err != nil {
		return fmt.Errorf("must be a percentage such as 25%%, got %s", yamlx.KindName(n))
	}
	p.Text += "%"
	return nil
}
