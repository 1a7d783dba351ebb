package daemon

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/notify"
)

// storeHealth says whether the store takes writes and reads. Every notification is written to
// the outbox, in the cycle's commit, before it is sent: a store that cannot commit (a full disk, a
// read-only volume) records no transition and so pages nobody about anything new. That must be
// loud: while the last write (or read) failed, slod is not ready, the status page says why, and
// slod_store_errors_total feeds the shipped SlodStoreErrors alert.
type storeHealth struct {
	log   *slog.Logger
	clock clock.Clock

	mu          sync.Mutex
	write, read storeProblem
}

// storeProblem is the last failure of one kind of store operation, until one succeeds.
type storeProblem struct {
	err   error
	since time.Time
}

// Kinds of store operations for storeHealth.observe, as they read in "the store cannot be …".
const (
	storeWrite = "written"
	storeRead  = "read"
)

func newStoreHealth(log *slog.Logger, clk clock.Clock) *storeHealth {
	return &storeHealth{log: log, clock: clk}
}

// observe records the outcome of a store operation of this kind (storeWrite or storeRead) and
// logs the change when it fails first, or works again.
func (h *storeHealth) observe(kind string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &h.write
	if kind == storeRead {
		p = &h.read
	}
	switch {
	case err != nil && p.err == nil:
		p.err, p.since = err, h.clock.Now()
		consequence := "no new notification can be enqueued, so nothing new is paged until it can"
		if kind == storeRead {
			consequence = "the notifications it holds cannot be delivered until it can"
		}
		h.log.Error("the store cannot be "+kind+": "+consequence+"; slod is not ready", "err", err)
	case err != nil:
		p.err = err
	case p.err != nil:
		h.log.Info("the store can be "+kind+" again", "failing_since", p.since)
		p.err = nil
	}
}

// problem describes what fails, or is "" when the store is healthy.
func (h *storeHealth) problem() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range []struct {
		kind string
		p    storeProblem
	}{{storeWrite, h.write}, {storeRead, h.read}} {
		if k.p.err != nil {
			return fmt.Sprintf("the store cannot be %s since %s: %v", k.kind, k.p.since.UTC().Format(time.RFC3339), k.p.err)
		}
	}
	return ""
}

// healthOutbox is the dispatcher's outbox, reporting its reads and writes to storeHealth and
// counting their failures in slod_store_errors_total.
type healthOutbox struct {
	notify.Outbox
	health *storeHealth
	errors prometheus.Counter
}

func (o healthOutbox) observe(kind string, err error) error {
	if err != nil {
		o.errors.Inc()
	}
	o.health.observe(kind, err)
	return err
}

// Pending implements notify.Outbox.
func (o healthOutbox) Pending() ([]notify.Entry, error) {
	es, err := o.Outbox.Pending()
	return es, o.observe(storeRead, err)
}

// Ack implements notify.Outbox.
func (o healthOutbox) Ack(seq uint64) error { return o.observe(storeWrite, o.Outbox.Ack(seq)) }

// Update implements notify.Outbox.
func (o healthOutbox) Update(e notify.Entry) error {
	return o.observe(storeWrite, o.Outbox.Update(e))
}
