package rules

import "github.com/slod-dev/slod/internal/yamlx"

// Pos is a position in a source file, 1-based like yaml.v3 nodes. It is yamlx's, so that SLO
// files, test files and the daemon config report problems the same way.
type Pos = yamlx.Pos

// Diagnostic is one problem (or warning) found in an SLO file: where it is, which field it concerns
// (a path such as `slos[1].sli.events.error_query`) and what is wrong. Error prints it as
// "file:line:col: field: message", Warning as "file:line:col: warning: field: message".
type Diagnostic = yamlx.Diagnostic

// Errors is every problem found in one run; it is the error Load and Parse return, so that a user
// fixes all of them at once rather than one per run.
type Errors = yamlx.Errors
