package daemon

import (
	"context"
	"errors"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestCycleSpans(t *testing.T) {
	h := newHarness(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	h.d.tracer = tp.Tracer("test")

	h.cycle(t0)
	h.src.set(func(f *fakeSource) { f.err = errors.New("down") })
	h.cycle(t0.Add(60e9))

	counts := map[string]int{}
	var cycles []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		counts[s.Name()]++
		if s.Name() == "cycle" {
			cycles = append(cycles, s)
		}
	}
	for name, want := range map[string]int{"cycle": 2, "slo": 2, "query": 2, "evaluate": 2, "notify": 2, "commit": 2} {
		if counts[name] != want {
			t.Errorf("%d %q spans, want %d (all: %v)", counts[name], name, want, counts)
		}
	}
	// Every span of a cycle belongs to its trace.
	for _, s := range rec.Ended() {
		if s.Name() == "cycle" {
			continue
		}
		found := false
		for _, c := range cycles {
			if s.SpanContext().TraceID() == c.SpanContext().TraceID() {
				found = true
			}
		}
		if !found {
			t.Errorf("span %q outside any cycle trace", s.Name())
		}
	}
}

func TestNoTracerWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, shutdown, err := newTracer(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	_, span := tr.Start(context.Background(), "x")
	if span.SpanContext().IsValid() || span.IsRecording() {
		t.Error("tracer records spans without an OTLP endpoint")
	}
}

func TestTracerWithEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tr, shutdown, err := newTracer(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Start(context.Background(), "x")
	if !span.IsRecording() {
		t.Error("tracer does not record with an OTLP endpoint")
	}
	span.End()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // do not wait for the unreachable collector
	shutdown(ctx)
}
