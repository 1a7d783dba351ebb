// Package openslo reads OpenSLO files (apiVersion openslo/v1, and openslo/v1alpha as Sloth
// users have them) unchanged, and maps their SLOs onto slod's: package rules turns what Read
// returns into rules.SLOs, so that `slod validate`, `check`, `test` and `run` take OpenSLO files
// as they take slod/v1 ones.
//
// The spec's Go SDK is not available from slod's module proxy; the objects are decoded by the
// project's strict YAML walker (internal/yamlx) instead, into the schema types of spec.go, and
// every rule of the spec and of its reference validator that types cannot express is checked
// here, each problem at file:line:col. A file holds several objects, as documents separated by
// --- or as a YAML list; references (indicatorRef, alertPolicyRef, conditionRef, targetRef,
// metricSourceRef) resolve across every file read together, and names are unique per kind.
//
// Each objective of an SLO becomes one SLO for slod; the README's table "OpenSLO files" gives the
// mapping: ratioMetric → events (bad, or total − good), raw → an error ratio per step,
// thresholdMetric → time slices, Timeslices → slices judged against timeSliceTarget; burnrate
// conditions → window pairs; notification targets → an alert label. What slod cannot evaluate
// (a source other than Prometheus, a calendar window that is not a week, month or quarter from its
// first day, a burn rate alert on a low burn) is refused
// with a message that says why.
package openslo
