// Package rules loads SLO files into validated model SLOs: slod's own `version: slod/v1` format
// (docs/interfaces.md §1), Sloth's `version: "prometheus/v1"` files and OpenSLO files
// (`apiVersion: openslo/v1` or `openslo/v1alpha`), unchanged.
//
// A file is decoded strictly by internal/yamlx into the schema types of spec.go (unknown and
// duplicate keys, wrong types, missing fields; merge keys and aliases work), then checked by
// parse.go, so that every problem of a run is reported at once with its position
// (file:line:col: field: message), PromQL errors included, at their place inside the query in the
// file. The model keeps objectives as ratios (99.9 → 0.999) and carries the
// effective alert policy: the SRE Workbook's default table scaled to the SLO period, or the SLO's
// own window pairs, with budget_percent turned into burn rates and disabled severities removed.
//
// Sloth files map as follows: events SLIs are events SLIs; a raw error_ratio_query becomes a
// RatioSLI, evaluated at every step and averaged over a window, as Sloth's own period rule does;
// page_alert and ticket_alert are the page and ticket severities of the default policy over Sloth's
// 30-day period, with their labels and annotations kept per severity. Sloth's SLI and SLO plugins
// are Sloth code and are reported as unsupported.
//
// OpenSLO files are read together, so that their references resolve across files, by package
// openslo, which maps each objective onto an SLO in slod's terms; openslo.go turns those into
// model SLOs with the checks above (PromQL, group labels, window pairs that can never fire).
package rules
