package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/robfig/cron/v3"
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
