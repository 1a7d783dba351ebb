package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/robfig/cron/v3"

	"github.com/slod-dev/slod/internal/sli"
)

func mustSchedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNextAlignsToGrid(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 0, 17, 0, time.UTC)
	cases := []struct {
		name string
		spec string
		now  time.Time
		want time.Time
	}{
		{"every minute mid-minute", "@every 1m", base, time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)},
		{"every minute on the boundary", "@every 1m", base.Truncate(time.Minute), time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)},
		{"every 30s", "@every 30s", base, time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)},
		{"every 5s", "@every 5s", base, time.Date(2026, 11, 25, 10, 0, 20, 0, time.UTC)},
		{"cron every 5 minutes", "*/5 * * * *", base, time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)},
		{"cron hourly", "@hourly", base, time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Next(mustSchedule(t, tc.spec), tc.now); !got.Equal(tc.want) {
				t.Errorf("Next = %v, want %v", got, tc.want)
			}
		})
	}
}

// schedHarness runs a Scheduler on a mock clock and exposes its events as channels.
type schedHarness struct {
	mock    *clock.Mock
	waiting chan time.Time
	runs    chan time.Time
	release chan struct{}
	skips   chan time.Time
	fin     chan time.Time
	cancel  context.CancelFunc
	done    chan error
}

func startScheduler(t *testing.T, spec string, start time.Time, blockRuns bool) *schedHarness {
	t.Helper()
	h := &schedHarness{
		mock:    clock.NewMock(),
		waiting: make(chan time.Time, 16),
		runs:    make(chan time.Time, 16),
		release: make(chan struct{}),
		skips:   make(chan time.Time, 16),
		fin:     make(chan time.Time, 16),
		done:    make(chan error, 1),
	}
	h.mock.Set(start)
	sched := mustSchedule(t, spec)
	s := &Scheduler{
		Clock:    h.mock,
		Schedule: func() cron.Schedule { return sched },
		Run: func(ctx context.Context, at time.Time) {
			h.runs <- at
			if blockRuns {
				select {
				case <-h.release:
				case <-ctx.Done():
				}
			}
		},
		Skip:     func(at time.Time) { h.skips <- at },
		waiting:  func(next time.Time) { h.waiting <- next },
		finished: func(at time.Time) { h.fin <- at },
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- s.Loop(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	return h
}

// recv waits for a value; the bound only turns a deadlock into a failure, it asserts no timing.
func recv(t *testing.T, what string, ch <-chan time.Time) time.Time {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		return time.Time{}
	}
}

func TestSchedulerRunsOnGrid(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 17, 0, time.UTC)
	h := startScheduler(t, "@every 1m", start, false)
	for i := 1; i <= 3; i++ {
		want := start.Truncate(time.Minute).Add(time.Duration(i) * time.Minute)
		if next := recv(t, "wait", h.waiting); !next.Equal(want) {
			t.Fatalf("waiting for %v, want %v", next, want)
		}
		h.mock.Set(want)
		if got := recv(t, "run", h.runs); !got.Equal(want) {
			t.Fatalf("run %d at %v, want %v", i, got, want)
		}
	}
	select {
	case s := <-h.skips:
		t.Errorf("unexpected skip at %v", s)
	default:
	}
}

func TestSchedulerSkipsOverrunNeverStacks(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	h := startScheduler(t, "@every 1m", start, true)
	t1 := recv(t, "wait", h.waiting)
	h.mock.Set(t1)
	if got := recv(t, "run", h.runs); !got.Equal(t1) {
		t.Fatalf("first run at %v", got)
	}
	// The run is still going: the next two ticks are skipped, not queued.
	for i := 2; i <= 3; i++ {
		next := recv(t, "wait", h.waiting)
		h.mock.Set(next)
		if got := recv(t, "skip", h.skips); !got.Equal(next) {
			t.Fatalf("skipped %v, want %v", got, next)
		}
	}
	select {
	case r := <-h.runs:
		t.Fatalf("a run was stacked at %v", r)
	default:
	}
	h.release <- struct{}{}
	// Once the run finished, the following tick runs again. The loop may already wait for it.
	recv(t, "finish", h.fin)
	next := recv(t, "wait", h.waiting)
	h.mock.Set(next)
	if got := recv(t, "run", h.runs); !got.Equal(next) {
		t.Fatalf("run after overrun at %v, want %v", got, next)
	}
}

// gatedSource blocks every query until released, to make a cycle overrun.
type gatedSource struct {
	*fakeSource
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.fakeSource.QueryRange(ctx, query, start, end, step)
}

func TestDaemonSkipsOverrunningCycle(t *testing.T) {
	h := newHarness(t)
	gate := &gatedSource{fakeSource: h.src, entered: make(chan struct{}, 1), release: make(chan struct{})}
	h.d.rt.querier = gate
	mock := clock.NewMock()
	mock.Set(t0.Add(10 * time.Second))
	h.d.clock = mock
	s := h.d.scheduler()
	waiting := make(chan time.Time, 16)
	finished := make(chan time.Time, 16)
	s.waiting = func(next time.Time) { waiting <- next }
	s.finished = func(at time.Time) { finished <- at }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Loop(ctx) }()
	defer func() { cancel(); <-done }()

	first := recv(t, "wait", waiting)
	mock.Set(first)
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the cycle did not query")
	}
	// Two ticks pass while the cycle is stuck in its query: both are skipped and counted.
	for range 2 {
		next := recv(t, "wait", waiting)
		mock.Set(next)
	}
	recv(t, "wait", waiting) // the loop went around twice: both skips are counted
	if v := metricValue(h.d.m.cycles.WithLabelValues(cycleSkipped)); v != 2 {
		t.Errorf("skipped cycles: %v, want 2", v)
	}
	close(gate.release)
	if at := recv(t, "finish", finished); !at.Equal(first) {
		t.Errorf("finished cycle of %v, want %v", at, first)
	}
	if v := metricValue(h.d.m.cycles.WithLabelValues(cycleSuccess)); v != 1 {
		t.Errorf("successful cycles: %v, want 1", v)
	}
	if got := time.Unix(0, h.d.lastCycle.Load()).UTC(); !got.Equal(first) {
		t.Errorf("committed %v, want %v", got, first)
	}
}

func TestSchedulerRescheduleAfterReload(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	h := &schedHarness{mock: clock.NewMock(), waiting: make(chan time.Time, 16), runs: make(chan time.Time, 16), done: make(chan error, 1)}
	h.mock.Set(start)
	hourly, minutely := mustSchedule(t, "@every 1h"), mustSchedule(t, "@every 1m")
	var mu sync.Mutex
	current := hourly
	s := &Scheduler{
		Clock:    h.mock,
		Schedule: func() cron.Schedule { mu.Lock(); defer mu.Unlock(); return current },
		Run:      func(_ context.Context, at time.Time) { h.runs <- at },
		waiting:  func(next time.Time) { h.waiting <- next },
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- s.Loop(ctx) }()
	defer func() { cancel(); <-h.done }()
	if next := recv(t, "wait", h.waiting); !next.Equal(start.Add(time.Hour)) {
		t.Fatalf("waiting for %v", next)
	}
	mu.Lock()
	current = minutely
	mu.Unlock()
	s.Reschedule()
	next := recv(t, "wait", h.waiting)
	if !next.Equal(start.Add(time.Minute)) {
		t.Fatalf("after the reload waiting for %v, want %v", next, start.Add(time.Minute))
	}
	h.mock.Set(next)
	if got := recv(t, "run", h.runs); !got.Equal(next) {
		t.Errorf("ran at %v", got)
	}
}
