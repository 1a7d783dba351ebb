package examplegen

import (
	"time"

	"github.com/slod-dev/slod/internal/check"
)

//go:generate go run ../../cmd/slod-examplegen -o ../../examples/assistant.om

// AssistantSeed is the seed of the shipped example: changing it changes examples/assistant.om.
const AssistantSeed = 20261001

// AssistantStart and AssistantEnd bound the shipped example recording: four days.
var (
	AssistantStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	AssistantEnd   = time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
)

// Assistant is the recording behind examples/assistant.om: four days of the AI assistant whose SLOs
// are in rules/, with the metric names those files read. It tells four stories, so that the README's
// first command shows each kind of outcome:
//
//   - a page: chat-api answers 15% of its requests with 500 for 25 minutes on the morning of Oct 4
//     (a bad deploy, rolled back) — chat-api/availability burns at ~150×;
//   - a ticket: model-gateway responses slow down for 20 hours from noon on Oct 2 (a model version
//     with longer completions): ~4% of responses take over 2.5 s, a 4× burn of the 99% latency SLO,
//     enough for the 3d/6h and then the 1d/2h ticket windows but never for the 6× page;
//   - a page for one model: the model-gateway's requests to the "code" model backend fail 25% of the
//     time for 40 minutes on the afternoon of Oct 3; the per-model SLO pages for that model only
//     (model-gateway/availability-per-model), the other models stay quiet;
//   - quiet: everything else, including a chat-api restart (counter reset) and a 4-minute scrape gap
//     on model-gateway, which must not alert.
func Assistant() Config {
	day := func(d, h, m int) time.Time {
		return AssistantStart.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	chatErrors := Incident(Const(0.00005), Span{day(3, 6, 0), day(3, 6, 25)}, 0, Const(0.15))
	gatewayMedian := Incident(Const(0.7), Span{day(1, 12, 0), day(2, 8, 0)}, 2*time.Hour, Const(1.24))
	gatewayRPS := Diurnal(12, 0.4, 15)
	const gib = 1 << 30
	server := func(ls ...check.Label) []check.Label {
		return append([]check.Label{{Name: "container", Value: "model-server"}, {Name: "pod", Value: "model-server-0"}}, ls...)
	}
	return Config{
		Start: AssistantStart,
		End:   AssistantEnd,
		Seed:  AssistantSeed,
		Jobs: []Job{
			{
				Name:     "chat-api",
				Scrape:   30 * time.Second,
				Offset:   7 * time.Second,
				Restarts: []time.Time{day(1, 3, 12)},
				HTTP: &HTTP{
					RPS:              Diurnal(20, 0.5, 15),
					ErrorRatio:       chatErrors,
					ClientErrorRatio: 0.001,
					LatencyMedian:    Const(0.18),
					LatencySigma:     0.6,
					Buckets:          []float64{0.3, 1},
				},
			},
			{
				Name:   "model-gateway",
				Scrape: time.Minute,
				Offset: 19 * time.Second,
				Gaps:   []Span{{day(2, 10, 0), day(2, 10, 4)}},
				HTTP: &HTTP{
					Requests:      "model_requests_total",
					Duration:      "model_request_duration_seconds",
					RPS:           gatewayRPS,
					ErrorRatio:    Const(0.0005),
					LatencyMedian: gatewayMedian,
					LatencySigma:  0.4,
					Buckets:       []float64{1, 2.5},
				},
				Counters: []Counter{
					{Name: "safety_filter_hits_total", Of: "model_requests_total", Ratio: Const(0.003)},
				},
			},
			gatewayBackend("large", 6, Const(0.0004), day(2, 0, 0)),
			gatewayBackend("small", 4, Const(0.0003), day(2, 0, 0)),
			gatewayBackend("code", 2, Incident(Const(0.0005), Span{day(2, 14, 0), day(2, 14, 40)}, 0, Const(0.25)), day(2, 0, 0)),
			{
				Name:   "model-server",
				Scrape: 60 * time.Second,
				Offset: 11 * time.Second,
				Counters: []Counter{
					{Name: "container_cpu_usage_seconds_total", Labels: server(), Rate: Diurnal(2.2, 0.25, 15), Noise: 0.05},
				},
				Gauges: []Gauge{
					{Name: "kube_pod_container_resource_limits", Labels: server(check.Label{Name: "resource", Value: "cpu"}), Value: Const(4)},
					{Name: "container_memory_working_set_bytes", Labels: server(), Value: Diurnal(21*gib, 0.08, 16), Noise: 0.2 * gib, Round: 4096},
					{Name: "container_spec_memory_limit_bytes", Labels: server(), Value: Const(32 * gib)},
					{Name: "model_server_queue_depth", Labels: server(), Value: Diurnal(9, 0.6, 15), Noise: 3, Round: 1, Min: 0, Max: 200},
				},
			},
			{
				Name:   "embeddings",
				Scrape: 60 * time.Second,
				Offset: 23 * time.Second,
				HTTP: &HTTP{
					Requests:   "embedding_requests_total",
					Duration:   "embedding_request_duration_seconds",
					RPS:        Diurnal(40, 0.5, 15),
					ErrorRatio: Const(0.0003),
				},
			},
		},
	}
}

// gatewayBackend is the model-gateway's view of one model backend: the requests it forwards there
// (model_backend_requests_total{job="model-gateway",model=...}) and their safety-filter hits. The
// gateway exposes them from since on (a release on Oct 3, which also keeps the example file small):
// the groups of the per-model SLOs appear then.
func gatewayBackend(model string, rps float64, errs Func, since time.Time) Job {
	labels := []check.Label{{Name: "job", Value: "model-gateway"}, {Name: "model", Value: model}}
	return Job{
		Name:   "model-gateway/" + model,
		Scrape: time.Minute,
		Offset: 37 * time.Second,
		Gaps:   []Span{{AssistantStart, since}},
		HTTP:   &HTTP{Requests: "model_backend_requests_total", RPS: Diurnal(rps, 0.4, 15), ErrorRatio: errs, Labels: labels},
		Counters: []Counter{
			{Name: "model_backend_safety_filter_hits_total", Labels: labels, Of: "model_backend_requests_total", Ratio: Const(0.003)},
		},
	}
}
