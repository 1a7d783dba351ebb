package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
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
	// Key is the notification's dedup key: entries of one (Receiver, Key) go out strictly in Seq
	// order, so a resolve never overtakes its trigger.
	Key          string
	Notification Notification
	Created      time.Time
	Attempts     int
	NextAttempt  time.Time
	LastError    string

	// invalid is set by outbox adapters for a stored payload that does not decode; such an entry
	// can never be delivered and is dropped.
	invalid error
	// payload is the stored encoding, written back unchanged by StoreOutbox.Update.
	payload []byte
}

// Outbox is the durable queue the Dispatcher drains. StoreOutbox adapts *store.Store to it.
type Outbox interface {
	// Pending returns every entry not yet acknowledged, by ascending Seq.
	Pending() ([]Entry, error)
	// Ack removes a delivered (or permanently rejected) entry.
	Ack(seq uint64) error
	// Update records a failed attempt: Attempts, NextAttempt and LastError.
	Update(e Entry) error
}

// Backoff defaults: a receiver that is down is retried after 1s, 2s, 4s, … up to 5m, forever.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// maxRetryAfter bounds how long a receiver's Retry-After can hold a page back.
	maxRetryAfter = time.Hour
	// storeRetry is how soon a pass that could not read the outbox is retried.
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
}

// Dispatcher drains an Outbox into Notifiers: in Seq order per (receiver, dedup key), removing an
// entry only after the receiver accepted it (or rejected it for good), retrying failures with
// exponential backoff and jitter forever. It is safe to re-create over the same Outbox after a
// crash: what was written and not acknowledged is sent again (at least once), and PagerDuty and
// Alertmanager both fold a repeated event into the same incident/alert by its key.
type Dispatcher struct {
	outbox Outbox
	opt    DispatcherOptions
	wake   chan struct{}

	mu        sync.Mutex
	notifiers map[string]Notifier
}

// NewDispatcher returns a Dispatcher over outbox delivering through notifiers (by receiver name).
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
	return &Dispatcher{outbox: outbox, opt: opt, wake: make(chan struct{}, 1), notifiers: notifiers}
}

// SetNotifiers swaps the receivers after a config reload; pending entries keep their receiver name.
func (d *Dispatcher) SetNotifiers(n map[string]Notifier) {
	d.mu.Lock()
	d.notifiers = n
	d.mu.Unlock()
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
		if err != nil {
			d.opt.Logger.Error("reading the outbox failed", "err", err)
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

// DispatchOnce makes one pass over the outbox: every entry that is due and not behind an earlier
// entry of its (receiver, key) is attempted once. Receivers are served concurrently, each in Seq
// order, so one that times out does not hold back the others. It returns when the next attempt
// is due (zero when nothing is pending).
func (d *Dispatcher) DispatchOnce(ctx context.Context) (time.Time, error) {
	entries, err := d.outbox.Pending()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading outbox: %w", err)
	}
	d.mu.Lock()
	notifiers := d.notifiers
	d.mu.Unlock()

	byReceiver := map[string][]Entry{}
	var order []string
	for _, e := range entries {
		if _, ok := byReceiver[e.Receiver]; !ok {
			order = append(order, e.Receiver)
		}
		byReceiver[e.Receiver] = append(byReceiver[e.Receiver], e)
	}
	type result struct {
		next  time.Time
		acked int
	}
	results := make([]result, len(order))
	var wg sync.WaitGroup
	for i, r := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, ok := notifiers[r]
			results[i].next, results[i].acked = d.dispatchReceiver(ctx, n, ok, byReceiver[r])
		}()
	}
	wg.Wait()
	var next time.Time
	pending := len(entries)
	for _, r := range results {
		pending -= r.acked
		if !r.next.IsZero() && (next.IsZero() || r.next.Before(next)) {
			next = r.next
		}
	}
	d.opt.Metrics.SetPending(pending)
	return next, nil
}

// dispatchReceiver attempts the due entries of one receiver, in Seq order; it returns when its
// next attempt is due and how many entries it removed.
func (d *Dispatcher) dispatchReceiver(ctx context.Context, n Notifier, known bool, entries []Entry) (next time.Time, acked int) {
	// later[i] is the index of the next entry of the same key, or -1.
	later := make([]int, len(entries))
	lastOf := map[string]int{}
	for i := len(entries) - 1; i >= 0; i-- {
		later[i] = -1
		if j, ok := lastOf[entries[i].Key]; ok {
			later[i] = j
		}
		lastOf[entries[i].Key] = i
	}
	wakeAt := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	blocked := map[string]bool{} // keys with an earlier entry still pending
	var downUntil time.Time      // set once the receiver failed in this pass
	for i, e := range entries {
		if ctx.Err() != nil {
			break
		}
		k := e.Key
		if blocked[k] {
			continue
		}
		log := d.opt.Logger.With("id", fmt.Sprintf("%d/%s", e.Seq, e.Key), "receiver", e.Receiver)
		ack := func() bool {
			if err := d.outbox.Ack(e.Seq); err != nil {
				// Still in the outbox: it will be attempted again, which the receivers fold into
				// the same incident by its key.
				log.Error("removing notification from the outbox failed", "err", err)
				blocked[k] = true
				return false
			}
			acked++
			return true
		}
		drop := func(reason string, err error) {
			if ack() {
				d.opt.Metrics.Count(e.Receiver, OutcomeFailed)
				log.Error("notification dropped", "reason", reason, "err", err, "attempts", e.Attempts+1)
			}
		}
		if e.invalid != nil {
			drop("undecodable outbox entry", e.invalid)
			continue
		}
		if !known {
			drop("no receiver of that name in the current config", errors.New("unknown receiver"))
			continue
		}
		if !downUntil.IsZero() {
			blocked[k] = true
			wakeAt(maxTime(downUntil, e.NextAttempt))
			continue
		}
		now := d.opt.Clock.Now()
		if e.NextAttempt.After(now) {
			blocked[k] = true
			wakeAt(e.NextAttempt)
			continue
		}
		// A firing alert re-sent before the previous send got through (Alertmanager resends
		// while it was down) says nothing the newer entry does not: send only the newer one.
		if j := later[i]; j >= 0 && e.Notification.Action == Trigger && entries[j].Notification.Action == Trigger && entries[j].invalid == nil {
			if ack() {
				log.Debug("notification superseded by a newer one for the same alert")
			}
			continue
		}
		retry, err := n.Notify(ctx, e.Notification)
		if err == nil {
			if ack() {
				d.opt.Metrics.Count(e.Receiver, OutcomeSuccess)
				log.Info("notification delivered", "action", string(e.Notification.Action), "attempts", e.Attempts+1)
			}
			continue
		}
		if !retry {
			drop("rejected by the receiver", err)
			continue
		}
		if ctx.Err() != nil {
			// Shutting down: the attempt was interrupted, not failed.
			break
		}
		blocked[k] = true
		e.Attempts++
		e.LastError = err.Error()
		e.NextAttempt = now.Add(d.delay(e.Attempts, err))
		downUntil = e.NextAttempt
		wakeAt(e.NextAttempt)
		d.opt.Metrics.Count(e.Receiver, OutcomeRetry)
		log.Warn("notification delivery failed, will retry", "err", err, "attempts", e.Attempts, "next_attempt", e.NextAttempt)
		if uerr := d.outbox.Update(e); uerr != nil {
			log.Error("recording the failed attempt failed", "err", uerr)
		}
	}
	return next, acked
}

// delay is how long to wait before attempt number attempts+1: the receiver's Retry-After when it
// gave one, else exponential backoff with jitter between MinBackoff and MaxBackoff.
func (d *Dispatcher) delay(attempts int, err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		return min(ra.After, maxRetryAfter)
	}
	b := float64(d.opt.MinBackoff) * math.Pow(2, float64(min(attempts-1, 30)))
	b = min(b, float64(d.opt.MaxBackoff))
	return time.Duration(b/2 + d.opt.Jitter()*b/2)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
