package openslo

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/yamlx"
)

// The schemas of the OpenSLO objects, declared once for yamlx: unknown and duplicate keys, wrong
// types and missing required fields are reported there, each at its place; the checks of the
// spec and of its reference validator that types cannot express are in check.go. Pointers are
// fields that may be absent. Field names and required fields follow the spec's README and JSON
// schemas (github.com/OpenSLO/OpenSLO, v1 and v1alpha).

// kobject is one OpenSLO object: every kind has the same header, and v1 and v1alpha differ in
// their metadata (M).
type kobject[M, S any] struct {
	APIVersion string `yaml:"apiVersion" yamlx:"required"`
	Kind       string `yaml:"kind" yamlx:"required"`
	Metadata   *M     `yaml:"metadata" yamlx:"required"`
	Spec       *S     `yaml:"spec" yamlx:"required"`
}

// meta is the object's metadata.
func (o *kobject[M, S]) meta() *M { return o.Metadata }

// object is a v1 object whose spec is an S.
type object[S any] = kobject[metadata, S]

// metadata is v1's: labels may hold a string or a list of strings per key.
type metadata struct {
	Name        *string               `yaml:"name" yamlx:"required"`
	DisplayName *string               `yaml:"displayName"`
	Labels      map[string]labelValue `yaml:"labels"`
	Annotations map[string]string     `yaml:"annotations"`
}

// labelValue is the value of a metadata label: "x" or ["x", "y"].
type labelValue []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *labelValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s, err := yamlx.String(n)
		*l = labelValue{s}
		return err
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("must be a string or a list of strings, got %s", yamlx.KindName(n))
	}
	for _, item := range n.Content {
		s, err := yamlx.String(item)
		if err != nil {
			return fmt.Errorf("must be a string or a list of strings: an item %s", err)
		}
		*l = append(*l, s)
	}
	return nil
}

type serviceSpec struct {
	Description *string `yaml:"description"`
}

type dataSourceSpec struct {
	Description       *string    `yaml:"description"`
	Type              *string    `yaml:"type" yamlx:"required"`
	ConnectionDetails *yaml.Node `yaml:"connectionDetails" yamlx:"required"`
}

type sliSpec struct {
	Description     *string      `yaml:"description"`
	ThresholdMetric *metricSpec  `yaml:"thresholdMetric"`
	RatioMetric     *ratioMetric `yaml:"ratioMetric"`
}

type ratioMetric struct {
	Counter *bool       `yaml:"counter"`
	Good    *metricSpec `yaml:"good"`
	Bad     *metricSpec `yaml:"bad"`
	Total   *metricSpec `yaml:"total"`
	RawType *string     `yaml:"rawType"`
	Raw     *metricSpec `yaml:"raw"`
}

type metricSpec struct {
	MetricSource *metricSource `yaml:"metricSource" yamlx:"required"`
}

type metricSource struct {
	MetricSourceRef *string `yaml:"metricSourceRef"`
	Type            *string `yaml:"type"`
	// Spec is free-form in the spec (it depends on the source type); slod reads `query` from a
	// Prometheus source.
	Spec *yaml.Node `yaml:"spec" yamlx:"required"`
}

// inlineSLI is an SLI written inside an SLO (spec.indicator).
type inlineSLI struct {
	Metadata *metadata `yaml:"metadata" yamlx:"required"`
	Spec     *sliSpec  `yaml:"spec" yamlx:"required"`
}

type sloSpec struct {
	Description     *string        `yaml:"description"`
	Service         *string        `yaml:"service" yamlx:"required"`
	Indicator       *inlineSLI     `yaml:"indicator"`
	IndicatorRef    *string        `yaml:"indicatorRef"`
	TimeWindow      []*timeWindow  `yaml:"timeWindow"`
	BudgetingMethod *string        `yaml:"budgetingMethod" yamlx:"required"`
	Objectives      []*objective   `yaml:"objectives" yamlx:"required"`
	AlertPolicies   []*policyEntry `yaml:"alertPolicies"`
}

type timeWindow struct {
	Duration  *shorthand `yaml:"duration" yamlx:"required"`
	IsRolling *bool      `yaml:"isRolling"`
	Calendar  *calendar  `yaml:"calendar"`
}

type calendar struct {
	StartTime *string `yaml:"startTime" yamlx:"required"`
	TimeZone  *string `yaml:"timeZone" yamlx:"required"`
}

type objective struct {
	DisplayName     *string    `yaml:"displayName"`
	Op              *string    `yaml:"op"`
	Value           *number    `yaml:"value"`
	Target          *number    `yaml:"target"`
	TargetPercent   *number    `yaml:"targetPercent"`
	TimeSliceTarget *number    `yaml:"timeSliceTarget"`
	TimeSliceWindow *sliceSize `yaml:"timeSliceWindow"`
	// Composite SLOs (an indicator per objective) are in the Go SDK, not in slod.
	Indicator       *yaml.Node `yaml:"indicator"`
	IndicatorRef    *yaml.Node `yaml:"indicatorRef"`
	CompositeWeight *yaml.Node `yaml:"compositeWeight"`
}

// policyEntry is an item of an SLO's alertPolicies: a reference or an AlertPolicy inline.
type policyEntry struct {
	AlertPolicyRef *string     `yaml:"alertPolicyRef"`
	Kind           *string     `yaml:"kind"`
	Metadata       *metadata   `yaml:"metadata"`
	Spec           *policySpec `yaml:"spec"`
}

type policySpec struct {
	Description         *string           `yaml:"description"`
	AlertWhenNoData     *bool             `yaml:"alertWhenNoData"`
	AlertWhenResolved   *bool             `yaml:"alertWhenResolved"`
	AlertWhenBreaching  *bool             `yaml:"alertWhenBreaching"`
	Conditions          []*conditionEntry `yaml:"conditions" yamlx:"required"`
	NotificationTargets []*targetEntry    `yaml:"notificationTargets" yamlx:"required"`
}

// conditionEntry is an item of a policy's conditions: a reference or an AlertCondition inline.
type conditionEntry struct {
	ConditionRef *string        `yaml:"conditionRef"`
	Kind         *string        `yaml:"kind"`
	Metadata     *metadata      `yaml:"metadata"`
	Spec         *conditionSpec `yaml:"spec"`
}

type conditionSpec struct {
	Description *string    `yaml:"description"`
	Severity    *string    `yaml:"severity" yamlx:"required"`
	Condition   *condition `yaml:"condition" yamlx:"required"`
}

type condition struct {
	Kind           *string    `yaml:"kind"`
	Op             *string    `yaml:"op" yamlx:"required"`
	Threshold      *number    `yaml:"threshold" yamlx:"required"`
	LookbackWindow *shorthand `yaml:"lookbackWindow" yamlx:"required"`
	AlertAfter     *shorthand `yaml:"alertAfter"`
}

// targetEntry is an item of a policy's notificationTargets: a reference or a target inline.
type targetEntry struct {
	TargetRef *string     `yaml:"targetRef"`
	Kind      *string     `yaml:"kind"`
	Metadata  *metadata   `yaml:"metadata"`
	Spec      *targetSpec `yaml:"spec"`
}

type targetSpec struct {
	Description *string `yaml:"description"`
	Target      *string `yaml:"target" yamlx:"required"`
}

// The v1alpha objects: what Sloth reads (its OpenSLO support is v1alpha only). Metadata has no
// labels or annotations there.
type alphaObject[S any] = kobject[alphaMetadata, S]

type alphaMetadata struct {
	Name        *string `yaml:"name" yamlx:"required"`
	DisplayName *string `yaml:"displayName"`
}

type alphaSLOSpec struct {
	TimeWindows     []*alphaTimeWindow `yaml:"timeWindows"`
	BudgetingMethod *string            `yaml:"budgetingMethod"`
	Description     *string            `yaml:"description"`
	Indicator       *alphaIndicator    `yaml:"indicator"`
	Service         *string            `yaml:"service" yamlx:"required"`
	Objectives      []*alphaObjective  `yaml:"objectives" yamlx:"required"`
}

type alphaIndicator struct {
	ThresholdMetric *alphaSource `yaml:"thresholdMetric" yamlx:"required"`
}

type alphaSource struct {
	Source    *string `yaml:"source" yamlx:"required"`
	QueryType *string `yaml:"queryType" yamlx:"required"`
	Query     *string `yaml:"query" yamlx:"required"`
}

type alphaObjective struct {
	DisplayName     *string     `yaml:"displayName"`
	Value           *number     `yaml:"value"`
	RatioMetrics    *alphaRatio `yaml:"ratioMetrics"`
	Target          *number     `yaml:"target" yamlx:"required"`
	TimeSliceTarget *number     `yaml:"timeSliceTarget"`
	Op              *string     `yaml:"op"`
}

type alphaRatio struct {
	Good  *alphaSource `yaml:"good" yamlx:"required"`
	Total *alphaSource `yaml:"total" yamlx:"required"`
	// counter is the oslo tool's name for it, incremental the Go SDK's.
	Counter     *bool `yaml:"counter"`
	Incremental *bool `yaml:"incremental"`
}

type alphaTimeWindow struct {
	Unit      *string   `yaml:"unit" yamlx:"required"`
	Count     *int      `yaml:"count" yamlx:"required"`
	IsRolling *bool     `yaml:"isRolling"`
	Calendar  *calendar `yaml:"calendar"`
}

// number is a number with its exact decimal value, so that a target of 0.999 becomes the float64
// nearest 0.999 and a targetPercent of 99.9 the same one.
type number = yamlx.Decimal

// shorthand is the spec's duration-shorthand: a whole number and one unit of m, h, d, w, M, Q or
// Y. The spec leaves the length of M, Q and Y to implementations; slod takes 30, 90 and 365
// days, as the Go SDK does (and as a rolling month is 30d elsewhere in slod).
type shorthand struct {
	d    time.Duration
	unit byte
	text string
}

var shorthandRE = regexp.MustCompile(`^([0-9]+)([mhdwMQY])$`)

var shorthandUnits = map[byte]time.Duration{
	'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
	'M': 30 * 24 * time.Hour, 'Q': 90 * 24 * time.Hour, 'Y': 365 * 24 * time.Hour,
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *shorthand) UnmarshalYAML(n *yaml.Node) error {
	text, err := yamlx.String(n)
	if err != nil {
		return err
	}
	d, unit, err := parseShorthand(text)
	if err != nil {
		return err
	}
	*s = shorthand{d: d, unit: unit, text: text}
	return nil
}

func parseShorthand(text string) (time.Duration, byte, error) {
	m := shorthandRE.FindStringSubmatch(text)
	if m == nil {
		return 0, 0, fmt.Errorf("invalid duration %q: want a whole number and one of the units m, h, d, w, M, Q, Y (duration-shorthand), such as 5m, 1h, 28d or 1M", text)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := shorthandUnits[m[2][0]]
	if err != nil || n > int64(200*365*24*time.Hour/unit) {
		return 0, 0, fmt.Errorf("invalid duration %q: too long", text)
	}
	return time.Duration(n) * unit, m[2][0], nil
}

// sliceSize is a timeSliceWindow: a duration-shorthand, or a bare number of minutes.
type sliceSize struct {
	d    time.Duration
	text string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *sliceSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		m, err := strconv.ParseInt(n.Value, 10, 32)
		if err != nil || m <= 0 {
			return fmt.Errorf("must be a positive number of minutes or a duration such as 5m, got %s", n.Value)
		}
		*s = sliceSize{d: time.Duration(m) * time.Minute, text: n.Value}
		return nil
	}
	var sh shorthand
	if err := sh.UnmarshalYAML(n); err != nil {
		return err
	}
	*s = sliceSize{d: sh.d, text: sh.text}
	return nil
}
