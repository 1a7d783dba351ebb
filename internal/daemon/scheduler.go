package daemon

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/robfig/cron/v3"
)

// Scheduler calls Run at every time of a cron schedule, reading time only from Clock so that tests
// step it by hand. robfig/cron's own runner reads the wall clock and starts overlapping jobs, so
// the scheduler uses only its parser and Schedule.Next, and waits on Clock's timers itself.
//
// A run still in progress when the next time comes is not stacked: that time is skipped and
// reported to Skip, and the schedule continues from the following time.
type Scheduler struct {
	Clock clock.Clock
	// Schedule returns the schedule in force; it is asked before every wait, so that a reload
	// takes effect from the next tick.
	Schedule func() cron.Schedule
	// Run evaluates at the scheduled time t (not the possibly later time it was woken at).
	Run func(ctx context.Context, t time.Time)
	// Skip is told about a time skipped because the previous run overran.
	Skip func(t time.Time)

	// waiting, when set (by tests), is told each time the loop starts waiting for next; a test
	// moves the mock clock only after that, so no tick is missed and nothing sleeps.
	waiting func(next time.Time)
	// finished, when set (by tests), is told when a run has finished and a new one may start.
	finished func(t time.Time)

	running atomic.Bool
	wg      sync.WaitGroup

	resched     chan struct{}
	reschedOnce sync.Once
}

// Reschedule makes the loop recompute its next time now, from the schedule in force (after a
// reload changed it), instead of after the wait for the old one's next time.
func (s *Scheduler) Reschedule() {
	select {
	case s.reschedule() <- struct{}{}:
	default:
	}
}

func (s *Scheduler) reschedule() chan struct{} {
	s.reschedOnce.Do(func() { s.resched = make(chan struct{}, 1) })
	return s.resched
}

// Next returns the first scheduled time after now. "@every d" schedules are aligned to multiples of
// d since the Unix epoch (robfig's ConstantDelaySchedule counts from the moment it is asked, which
// would put evaluations off the step grid and make two replicas evaluate at different times).
func Next(s cron.Schedule, now time.Time) time.Time {
	if every, ok := s.(cron.ConstantDelaySchedule); ok && every.Delay > 0 {
		return now.Truncate(every.Delay).Add(every.Delay)
	}
	return s.Next(now)
}

// Loop runs until ctx is done, then waits for a run in progress to finish (its ctx is done too,
// so it finishes quickly or abandons its work).
func (s *Scheduler) Loop(ctx context.Context) error {
	defer s.wg.Wait()
	for {
		now := s.Clock.Now()
		next := Next(s.Schedule(), now)
		if next.IsZero() {
			// A cron spec that never fires again (e.g. a date in the past): wait for shutdown.
			<-ctx.Done()
			return nil
		}
		timer := s.Clock.Timer(next.Sub(now))
		if s.waiting != nil {
			s.waiting(next)
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-s.reschedule():
			timer.Stop()
			continue
		case <-timer.C:
		}
		if !s.running.CompareAndSwap(false, true) {
			if s.Skip != nil {
				s.Skip(next)
			}
			continue
		}
		s.wg.Add(1)
		go func(t time.Time) {
			defer s.wg.Done()
			s.Run(ctx, t)
			s.running.Store(false)
			if s.finished != nil {
				s.finished(t)
			}
		}(next)
	}
}
