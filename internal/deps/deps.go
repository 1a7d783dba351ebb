// Package deps pins the project's chosen libraries in go.mod until the packages that use them land.
// Delete it once every import below is used by real code.
package deps

import (
	_ "github.com/PagerDuty/go-pagerduty"
	_ "github.com/benbjohnson/clock"
	_ "github.com/oklog/run"
	_ "github.com/prometheus/client_golang/api/prometheus/v1"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/prometheus/model/textparse"
	_ "github.com/prometheus/prometheus/promql"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "github.com/robfig/cron/v3"
	_ "go.etcd.io/bbolt"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "gopkg.in/yaml.v3"
)
