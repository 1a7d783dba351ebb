package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

var errUnknownReceiver = errors.New("unknown receiver")

// receiverPass is one Dispatcher pass over the pending entries of one receiver. It runs in its
// own goroutine and is the only one touching its receiverState during the pass.
type receiverPass struct {
	d      *Dispatcher
	ctx    context.Context
	name   string
	n      Notifier
	known  bool
	rs     *receiverState
	policy DeliveryPolicy
	log    *slog.Logger

	// next is when this receiver's next attempt is due; pending and oldest describe the entries
	// left in the outbox after the pass.
	next    time.Time
	pending int
	oldest  time.Time
}

// attemptResult tells send whether to go on with the receiver's next entry.
type attemptResult int

const (
	// delivered: the receiver accepted it (and so accepts notifications again).
	delivered attemptResult = iota
	// rejected: the receiver refused this message; the others may still go.
	rejected
	// stop: the receiver failed, its rate limit is reached, or slod is shutting down.
	stop
)

func (p *receiverPass) run(entries []Entry) {
	p.log = p.d.opt.Logger.With("receiver", p.name)
	if p.known {
		p.policy = policyOf(p.n)
	}
	p.send(p.collapse(entries))
}

// collapse drops what can never be sent and, per dedup key, removes every entry but the newest:
// the receiver needs only the newest to end up in the right state. It returns the newest entry of
// each key, in the order the keys entered the outbox.
func (p *receiverPass) collapse(entries []Entry) []Entry {
	var order []string
	byKey := map[string][]Entry{}
	for _, e := range entries {
		switch {
		case e.Invalid != nil:
			p.drop(e, "undecodable outbox entry", e.Invalid)
		case !p.known:
			p.drop(e, "no receiver of that name in the current config", errUnknownReceiver)
		default:
			if _, ok := byKey[e.Key]; !ok {
				order = append(order, e.Key)
			}
			byKey[e.Key] = append(byKey[e.Key], e)
		}
	}
	queue := make([]Entry, 0, len(order))
next:
	for _, k := range order {
		es := byKey[k]
		newest := es[len(es)-1]
		for i, old := range es[:len(es)-1] {
			if !p.supersede(old, newest) {
				// Sending the newest while an older one stays pending could let the older one
				// go out last and leave the receiver in the wrong state: wait for the store.
				for _, e := range es[i+1:] {
					p.wait(e, p.d.opt.Clock.Now().Add(storeRetry))
				}
				continue next
			}
		}
		queue = append(queue, newest)
	}
	return queue
}

// send attempts the due entries of queue in order. After a failure the receiver is held back;
// after an acceptance every entry is attempted, also those whose own backoff has not ended: the
// receiver is evidently back.
func (p *receiverPass) send(queue []Entry) {
	if hold := p.rs.holdUntil; hold.After(p.d.opt.Clock.Now()) {
		p.waitAll(queue)
		return
	}
	var skipped []Entry
	accepted := false
	for i, e := range queue {
		if !accepted && e.NextAttempt.After(p.d.opt.Clock.Now()) {
			skipped = append(skipped, e)
			continue
		}
		switch p.attempt(e) {
		case delivered:
			accepted = true
		case stop:
			p.waitAll(append(skipped, queue[i+1:]...))
			return
		}
	}
	if !accepted {
		p.waitAll(skipped)
		return
	}
	for i, e := range skipped {
		if p.attempt(e) == stop {
			p.waitAll(skipped[i+1:])
			return
		}
	}
}

// attempt sends one entry and records the outcome.
func (p *receiverPass) attempt(e Entry) attemptResult {
	if p.ctx.Err() != nil {
		p.wait(e, e.NextAttempt)
		return stop
	}
	log := p.entryLog(e)
	start := p.d.opt.Clock.Now()
	retry, err := p.n.Notify(p.ctx, e.Notification)
	now := p.d.opt.Clock.Now()
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		// Nothing was sent: wait for a token, without counting a failure.
		p.rs.holdUntil = now.Add(rl.After)
		p.wait(e, maxTime(p.rs.holdUntil, e.NextAttempt))
		log.Debug("waiting for the receiver's rate limit", "wait", rl.After)
		return stop
	case err != nil && p.ctx.Err() != nil:
		// Shutting down: the attempt was interrupted, not failed.
		p.wait(e, e.NextAttempt)
		return stop
	}
	p.d.opt.Metrics.observeLatency(p.name, now.Sub(start))
	switch {
	case err == nil:
		p.delivered(e, log)
		return delivered
	case !retry:
		p.rejected(e, err, now, log)
		return rejected
	}
	p.failed(e, err, now, log)
	return stop
}

func (p *receiverPass) delivered(e Entry, log *slog.Logger) {
	if p.rs.failures > 0 {
		p.log.Info("receiver accepts notifications again", "failed_attempts", p.rs.failures, "last_error", p.rs.lastErr)
	}
	p.rs.failures, p.rs.holdUntil, p.rs.lastErr = 0, time.Time{}, ""
	if p.ack(e, log) {
		p.d.opt.Metrics.Count(p.name, OutcomeSuccess)
		log.Info("notification delivered", "action", string(e.Notification.Action), "attempts", e.Attempts+1)
		e.Attempts++
		p.observe(e, Delivered)
	}
}

// observe tells DispatcherOptions.Observe what became of e.
func (p *receiverPass) observe(e Entry, o DeliveryOutcome) {
	if f := p.d.opt.Observe; f != nil {
		f(Delivery{Entry: e, Outcome: o, At: p.d.opt.Clock.Now()})
	}
}

// rejected keeps a notification the receiver refused and sends it again after the repeat
// interval: a proxy that answers 400 for a while must not cost the page of an alert that keeps
// firing. Every rejection is logged and counted: each is a page that did not go out.
func (p *receiverPass) rejected(e Entry, err error, now time.Time, log *slog.Logger) {
	p.d.opt.Metrics.Count(p.name, OutcomeFailed)
	p.d.opt.Metrics.fail(p.name, failureReason(err))
	e.Attempts++
	e.LastError = err.Error()
	e.NextAttempt = now.Add(p.policy.RepeatInterval)
	log.Error("notification rejected by the receiver; it is sent again after the repeat interval while it is pending",
		"err", err, "action", string(e.Notification.Action), "attempts", e.Attempts, "next_attempt", e.NextAttempt)
	p.update(e, log)
	p.observe(e, Rejected)
	p.wait(e, e.NextAttempt)
}

// failed records a retryable failure: the entry waits its own backoff (or Retry-After), the
// receiver is held back for the receiver's backoff.
func (p *receiverPass) failed(e Entry, err error, now time.Time, log *slog.Logger) {
	reason := failureReason(err)
	p.d.opt.Metrics.Count(p.name, OutcomeRetry)
	p.d.opt.Metrics.fail(p.name, reason)
	e.Attempts++
	e.LastError = err.Error()
	e.NextAttempt = now.Add(p.d.retryDelay(e.Attempts, err, p.policy))
	p.rs.failures++
	p.rs.holdUntil = now.Add(p.d.backoff(p.rs.failures))
	// The same failure on every attempt of an outage says nothing new: log it when it changes.
	msg := err.Error()
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		msg = ra.Err.Error()
	}
	level := slog.LevelWarn
	if msg == p.rs.lastErr {
		level = slog.LevelDebug
	}
	p.rs.lastErr = msg
	log.Log(context.Background(), level, "notification delivery failed, will retry (the same failure again is logged at debug level)",
		"err", err, "reason", reason, "attempts", e.Attempts, "next_attempt", e.NextAttempt, "receiver_failures", p.rs.failures)
	p.update(e, log)
	p.observe(e, Retrying)
	p.wait(e, maxTime(e.NextAttempt, p.rs.holdUntil))
}

// supersede removes old, made moot by newest (the same receiver and key); false when the store
// refused.
func (p *receiverPass) supersede(old, newest Entry) bool {
	log := p.entryLog(old)
	if !p.ack(old, log) {
		return false
	}
	p.d.opt.Metrics.Count(p.name, OutcomeSuperseded)
	p.observe(old, Superseded)
	from, to := old.Notification.Action, newest.Notification.Action
	attrs := []any{"action", string(from), "by", fmt.Sprintf("%d/%s", newest.Seq, to), "attempts", old.Attempts, "last_error", old.LastError}
	switch {
	case from == Trigger && to == Resolve:
		log.Warn("trigger superseded by its alert's resolve before the receiver accepted it: the alert ended before it could be paged", attrs...)
	case from == Resolve && to == Trigger:
		log.Info("resolve superseded: the alert fired again before the receiver accepted the resolve, so its incident stays open", attrs...)
	default:
		log.Debug("notification superseded by a newer one for the same alert", attrs...)
	}
	return true
}

// drop removes an entry that can never be delivered.
func (p *receiverPass) drop(e Entry, reason string, err error) {
	log := p.entryLog(e)
	if p.ack(e, log) {
		p.d.opt.Metrics.Count(p.name, OutcomeFailed)
		log.Error("notification dropped", "reason", reason, "err", err, "attempts", e.Attempts+1)
		e.LastError = reason + ": " + err.Error()
		p.observe(e, Dropped)
	}
}

// ack removes e from the outbox; when the store refuses, e stays pending and is tried again
// soon (the receivers fold a repeated event into the same incident by its key).
func (p *receiverPass) ack(e Entry, log *slog.Logger) bool {
	if err := p.d.outbox.Ack(e.Seq); err != nil {
		log.Error("removing notification from the outbox failed", "err", err)
		p.wait(e, p.d.opt.Clock.Now().Add(storeRetry))
		return false
	}
	return true
}

func (p *receiverPass) update(e Entry, log *slog.Logger) {
	if err := p.d.outbox.Update(e); err != nil {
		log.Error("recording the failed attempt failed", "err", err)
	}
}

// waitAll leaves entries pending until their own next attempt, and not before the receiver's
// hold ends.
func (p *receiverPass) waitAll(es []Entry) {
	for _, e := range es {
		p.wait(e, maxTime(e.NextAttempt, p.rs.holdUntil))
	}
}

// wait records that e stays pending and is due at `at`.
func (p *receiverPass) wait(e Entry, at time.Time) {
	p.pending++
	p.oldest = earliest(p.oldest, e.Created)
	p.next = earliest(p.next, at)
}

func (p *receiverPass) entryLog(e Entry) *slog.Logger {
	return p.log.With("id", fmt.Sprintf("%d/%s", e.Seq, e.Key))
}
