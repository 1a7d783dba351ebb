// Package check holds what `slod check` and `slod record` print and write: the backtest report (text
// and the JSON of docs/interfaces.md §2) and recorded series as OpenMetrics text.
package check
