package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// Entry is one outbox entry: a notification for one receiver, written (in the same store
// transaction as the alert state that caused it) before any attempt to send it, and removed only
// once the receiver accepted it.
type Entry struct {
	// Seq orders entries; Pending returns them by ascending Seq.
	Seq      uint64
	Receiver string
	// Key is the notification's dedup key: of the pending entries of one (Receiver, Key) only the
	// newest is sent, so an older one never overtakes it and the receiver ends in its state.
	Key          string
	Notification Notification
	Created      time.Time
	Attempts     int
	NextAttempt  time.Time
	LastError    string

	// Invalid is set by an Outbox for a stored payload that does not decode; such an entry can
	// never be delivered, and the Dispatcher drops it (with a log line) instead of wedging
	// behind it.
	Invalid error
	// Payload is the stored encoding of Notification, for an Outbox to write back unchanged in
	// Update; the Dispatcher does not read it.
	Payload []byte
}

// Outbox is the durable queue the Dispatcher drains. The daemon's adapts its store to it; the
// tests use one in memory.
type Outbox interface {
	// Pending returns every entry not yet acknowledged, by ascending Seq.
	Pending() ([]Entry, error)
	// Ack removes a delivered (or permanently rejected) entry.
	Ack(seq uint64) error
	// Update records a failed attempt: Attempts, NextAttempt and LastError.
	Update(e Entry) error
}

// Backoff defaults: a receiver that is down is asked again after 1s, 2s, 4s, … up to 1m, forever.
// The cap is Alertmanager's (its backoff's default maximum interval): while a receiver is down
// only one notification at a time is tried, so asking once a minute costs one request a minute,
// and it bounds how late a page goes out once the receiver is back.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
	// storeRetry is how soon a pass that could not read or write the outbox is retried.
	storeRetry = 5 * time.Second
)

// DispatcherOptions are the Dispatcher's dependencies; zero values get defaults.
type DispatcherOptions struct {
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics
	// MinBackoff and MaxBackoff bound the exponential backoff between attempts.
	MinBackoff, MaxBackoff time.Duration
	// Jitter returns a number in [0, 1) (default math/rand/v2); the delay is d/2 + Jitter()·d/2 so
	// that replicas and receivers recovering together do not retry in lockstep.
	Jitter func() float64
	// Observe, when set, is told what became of each entry at every attempt, and when one is
	// superseded or dropped: the daemon keeps it with the incident, for the status page. It runs
	// in the receiver's goroutine; it must not call the Dispatcher.
	Observe func(Delivery)
}

// Delivery is what became of one outbox entry: its outcome at At, and the entry as it stands
// after it (Attempts and LastError of a failed attempt).
type Delivery struct {
	Entry   Entry
	Outcome DeliveryOutcome
	At      time.Time
}

// DeliveryOutcome is what one attempt (or the collapse of a backlog) did to an entry.
type DeliveryOutcome string

// The outcomes of Delivery.
const (
	// Delivered: the receiver accepted the notification.
	Delivered DeliveryOutcome = "delivered"
	// Retrying: the attempt failed (429, 5xx, timeout, network); it is retried with backoff.
	Retrying DeliveryOutcome = "retrying"
	// Rejected: the receiver refused it (another 4xx); it is sent again every repeat_interval.
	Rejected DeliveryOutcome = "rejected"
	// Superseded: a newer notification of the same alert and receiver replaced it unsent.
	Superseded DeliveryOutcome = "superseded"
	// Dropped: it can never be sent (undecodable, or its receiver is no longer configured).
	Dropped DeliveryOutcome = "dropped"
)

// Dispatcher drains an Outbox into Notifiers, removing an entry only after the receiver accepted
// it, and retrying failures forever. It is safe to re-create over the same Outbox after a crash:
// what was written and not acknowledged is sent again (at least once), and PagerDuty and
// Alertmanager both fold a repeated event into the same incident/alert by its key.
//
// Per receiver, each pass:
//   - collapses the backlog per dedup key to its newest entry, which alone leaves the receiver in
//     the right state (a trigger, resolve, trigger backlog sends one trigger; trigger, resolve
//     sends the resolve, which closes the incident if the trigger got through and is a no-op if
//     it did not), so a receiver back from an outage never opens and closes an incident at once;
//   - sends the entries that are due, in the order their keys entered the outbox;
//   - after a failure (429, 5xx, timeout, network error) holds the receiver back for an
//     exponential backoff (1s doubling to MaxBackoff) while the entry itself waits its own
//     backoff, or its Retry-After capped by the receiver's max_retry_after, so one entry's
//     Retry-After does not hold the other dedup keys;
//   - keeps an entry the receiver rejected (4xx) and sends it again every repeat_interval until
//     it is accepted or superseded;
//   - when the receiver accepts a notification, sends every other pending entry of it at once,
//     whatever its own backoff.
//
// So a pending notification goes out at most max(MaxBackoff, max_retry_after, repeat_interval)
// (2 minutes by default) after its receiver is able to accept it again, plus the time of the
// attempts ahead of it and the receiver's rate limit.
type Dispatcher struct {
	outbox Outbox
	opt    DispatcherOptions
	wake   chan struct{}

	mu        sync.Mutex
	notifiers map[string]Notifier
	receivers map[string]*receiverState
	// readErr is the last outbox read failure logged (logged again only when it changes).
	readErr string
}

// receiverState is what the Dispatcher remembers of a receiver between passes (in memory: after a
// restart the entries' own NextAttempt still spaces the retries).
type receiverState struct {
	// failures counts the attempts that failed since the receiver last accepted one.
	failures int
	// holdUntil is when the receiver may be tried again after a failure.
	holdUntil time.Time
	// lastErr is the last failure logged, so that a repeated one is not logged again.
	lastErr string
}

// NewDispatcher returns a Dispatcher over outbox delivering through notifiers (by receiver name),
// with the delivery counters of every receiver at 0 (Metrics.SetReceivers).
func NewDispatcher(outbox Outbox, notifiers map[string]Notifier, opt DispatcherOptions) *Dispatcher {
	if opt.Clock == nil {
		opt.Clock = clock.New()
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = DefaultMinBackoff
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = DefaultMaxBackoff
	}
	if opt.Jitter == nil {
		opt.Jitter = rand.Float64
	}
	opt.Metrics.useClock(opt.Clock)
	opt.Metrics.SetReceivers(slices.Collect(maps.Keys(notifiers)))
	return &Dispatcher{outbox: outbox, opt: opt, wake: make(chan struct{}, 1), notifiers: notifiers,
		receivers: map[string]*receiverState{}}
}

// SetNotifiers swaps the receivers after a config reload; pending entries keep their receiver
// name, and receivers keep their backoff state by name. The delivery counters follow the new
// receivers (Metrics.SetReceivers).
func (d *Dispatcher) SetNotifiers(n map[string]Notifier) {
	d.mu.Lock()
	d.notifiers = n
	d.mu.Unlock()
	d.opt.Metrics.SetReceivers(slices.Collect(maps.Keys(n)))
	d.Wake()
}

// Wake makes Run start a pass now; call it after committing new outbox entries.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done: a pass, then sleep until the earliest retry is due or Wake.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		next, err := d.DispatchOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := d.opt.Clock.Now()
		d.logRead(err)
		if err != nil {
			next = now.Add(storeRetry)
		}
		var timer *clock.Timer
		var timerC <-chan time.Time
		if !next.IsZero() {
			timer = d.opt.Clock.Timer(max(next.Sub(now), 0))
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// logRead logs a failure to read the outbox when it differs from the last one, and the
// recovery, instead of every few seconds while the store fails.
func (d *Dispatcher) logRead(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	d.mu.Lock()
	prev := d.readErr
	d.readErr = msg
	d.mu.Unlock()
	switch {
	case msg == prev:
	case err != nil:
		d.opt.Logger.Error("reading the outbox failed; nothing is delivered until it can be read", "err", err)
	default:
		d.opt.Logger.Info("reading the outbox works again")
	}
}

// DispatchOnce makes one pass over the outbox (see Dispatcher). Receivers are served
// concurrently, so one that times out does not hold back the others. It returns when the next
// attempt is due (zero when nothing is pending).
func (d *Dispatcher) DispatchOnce(ctx context.Context) (time.Time, error) {
	entries, err := d.outbox.Pending()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading outbox: %w", err)
	}
	byReceiver := map[string][]Entry{}
	var order []string
	for _, e := range entries {
		if _, ok := byReceiver[e.Receiver]; !ok {
			order = append(order, e.Receiver)
		}
		byReceiver[e.Receiver] = append(byReceiver[e.Receiver], e)
	}
	passes := make([]*receiverPass, len(order))
	d.mu.Lock()
	for i, r := range order {
		n, known := d.notifiers[r]
		rs := d.receivers[r]
		if rs == nil {
			rs = &receiverState{}
			d.receivers[r] = rs
		}
		passes[i] = &receiverPass{d: d, ctx: ctx, name: r, n: n, known: known, rs: rs}
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for i, p := range passes {
		wg.Go(func() { p.run(byReceiver[order[i]]) })
	}
	wg.Wait()
	var next, oldest time.Time
	pending := 0
	for _, p := range passes {
		next, oldest = earliest(next, p.next), earliest(oldest, p.oldest)
		pending += p.pending
	}
	d.opt.Metrics.SetPending(pending, oldest)
	return next, nil
}

// backoff is the delay after the n-th consecutive failure: MinBackoff doubling up to MaxBackoff,
// with jitter.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := float64(d.opt.MinBackoff) * math.Pow(2, float64(min(max(n, 1)-1, 30)))
	b = min(b, float64(d.opt.MaxBackoff))
	return time.Duration(b/2 + d.opt.Jitter()*b/2)
}

// retryDelay is how long an entry waits after its attempts-th failed attempt: the receiver's
// Retry-After when it gave one, capped by the policy's MaxRetryAfter, else backoff.
func (d *Dispatcher) retryDelay(attempts int, err error, p DeliveryPolicy) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		return min(ra.After, p.MaxRetryAfter)
	}
	return d.backoff(attempts)
}

// earliest is the earlier of two times, a zero time meaning "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
