package daemon

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// metaIncidents prefixes the store meta key of each alert's incidents ("incidents/" + dedup key).
const metaIncidents = "incidents/"

// Bounds of the incident log: incidents that ended longer ago than the longest SLO window (at
// least incidentRetention) are dropped, and an alert keeps at most maxIncidents (a flapping alert
// must not grow the store without bound).
const (
	incidentRetention = 30 * 24 * time.Hour
	maxIncidents      = 100
	// maxDeliveries bounds the deliveries kept of one incident (an Alertmanager receiver gets a
	// trigger every resend interval; each receiver and action is one delivery, updated in place).
	maxDeliveries = 20
)

// incident is one firing of one alert, and what became of its notifications: the detail page's
// incidents and the alert intervals on its charts.
type incident struct {
	Severity string `json:"severity"`
	NoData   bool   `json:"no_data,omitempty"`
	// Budget marks an incident of a budget alert (alerting.budget).
	Budget bool       `json:"budget,omitempty"`
	Start  time.Time  `json:"start"`
	End    *time.Time `json:"end,omitempty"`
	// Window is the window pair that fired (1h/5m) with the burn rates it saw and its threshold;
	// PeakBurnRate is the highest short-window burn rate while firing (set at the resolve).
	Window       string  `json:"window,omitempty"`
	LongBurn     float64 `json:"long_burn_rate,omitempty"`
	ShortBurn    float64 `json:"short_burn_rate,omitempty"`
	BurnRate     float64 `json:"burn_rate,omitempty"`
	PeakBurnRate float64 `json:"peak_burn_rate,omitempty"`
	// SilencedBy is the silence that held its trigger back; Unrouted is set when no route took it.
	SilencedBy string     `json:"silenced_by,omitempty"`
	Unrouted   bool       `json:"unrouted,omitempty"`
	Deliveries []delivery `json:"deliveries,omitempty"`
}

// delivery is what became of the notifications of one action (trigger, resolve) of an incident
// for one receiver: the last outcome.
type delivery struct {
	Receiver string `json:"receiver"`
	Action   string `json:"action"`
	// Outcome is "pending" (enqueued, not yet tried) or a notify.DeliveryOutcome.
	Outcome  string    `json:"outcome"`
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// outcomePending is a delivery enqueued and not tried yet.
const outcomePending = "pending"

// incidentLog keeps every alert's recent incidents, by dedup key, in memory and in the store (a
// meta key per alert). The cycle writes it in its own transaction, the dispatcher's observer after
// each attempt: mu serialises the two, and the cycle holds it from planning to publishing, so a
// delivery observed meanwhile is not lost under the cycle's copy.
type incidentLog struct {
	mu     sync.Mutex
	byKey  map[string][]incident
	store  *store.Store
	log    *slog.Logger
	errors prometheus.Counter
}

// loadIncidents reads the incident log from the store; a record that does not decode is logged and
// skipped (the log is what the status page shows, not what pages).
func loadIncidents(st *store.Store, log *slog.Logger, errs prometheus.Counter) (*incidentLog, error) {
	l := &incidentLog{byKey: map[string][]incident{}, store: st, log: log, errors: errs}
	recs, err := st.MetaPrefix(metaIncidents)
	if err != nil {
		return nil, err
	}
	for k, v := range recs {
		var list []incident
		if err := json.Unmarshal(v, &list); err != nil {
			log.Warn("skipping an undecodable incident record", "key", k, "err", err)
			continue
		}
		l.byKey[strings.TrimPrefix(k, metaIncidents)] = list
	}
	return l, nil
}

// get returns copies of the incidents of the given alerts.
func (l *incidentLog) get(keys []string) map[string][]incident {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]incident, len(keys))
	for _, k := range keys {
		if list := l.byKey[k]; len(list) > 0 {
			out[k] = cloneIncidents(list)
		}
	}
	return out
}

func cloneIncidents(list []incident) []incident {
	out := slices.Clone(list)
	for i := range out {
		out[i].Deliveries = slices.Clone(out[i].Deliveries)
	}
	return out
}

// incidentUpdate is what a cycle changes in the log: the new lists of the alerts it touched (to
// write) and the alerts left without incidents (to delete).
type incidentUpdate struct {
	lists   map[string][]incident
	deleted []string
}

// plan computes the cycle's changes to the log (the caller holds mu): an incident opened by each
// trigger of the cycle's transitions and closed by each resolve, a pending delivery for each
// notification enqueued, the silences and missing routes that held triggers back, and the
// incidents past retention dropped.
func (l *incidentLog) plan(changes []notify.Notification, rec notify.ReconcileResult, at time.Time, retention time.Duration) incidentUpdate {
	u := incidentUpdate{lists: map[string][]incident{}}
	list := func(key string) []incident {
		if v, ok := u.lists[key]; ok {
			return v
		}
		return cloneIncidents(l.byKey[key])
	}
	for _, n := range changes {
		u.lists[n.DedupKey] = applyNotification(list(n.DedupKey), n, at)
	}
	for _, e := range rec.Enqueue {
		u.lists[e.Key] = setDelivery(list(e.Key), e.Notification.StartsAt,
			delivery{Receiver: e.Receiver, Action: string(e.Notification.Action), Outcome: outcomePending, At: e.Created})
	}
	for _, s := range rec.Silenced {
		if v := list(s.Key); len(v) > 0 && v[len(v)-1].End == nil {
			v[len(v)-1].SilencedBy = s.SilenceID
			u.lists[s.Key] = v
		}
	}
	for _, key := range rec.Unrouted {
		if v := l.byKey[key]; len(v) > 0 && v[len(v)-1].End == nil && !v[len(v)-1].Unrouted {
			v = list(key)
			v[len(v)-1].Unrouted = true
			u.lists[key] = v
		}
	}
	l.prune(&u, at.Add(-retention))
	return u
}

// prune drops the incidents that ended before cutoff and the oldest past maxIncidents, from the
// lists of u and of the log.
func (l *incidentLog) prune(u *incidentUpdate, cutoff time.Time) {
	for key, v := range l.byKey {
		if _, ok := u.lists[key]; !ok && stale(v, cutoff) {
			u.lists[key] = cloneIncidents(v)
		}
	}
	for key, v := range u.lists {
		v = slices.DeleteFunc(v, func(in incident) bool { return in.End != nil && in.End.Before(cutoff) })
		if len(v) > maxIncidents {
			v = v[len(v)-maxIncidents:]
		}
		if len(v) == 0 {
			delete(u.lists, key)
			if _, ok := l.byKey[key]; ok {
				u.deleted = append(u.deleted, key)
			}
			continue
		}
		u.lists[key] = v
	}
	slices.Sort(u.deleted)
}

func stale(v []incident, cutoff time.Time) bool {
	return len(v) > maxIncidents || len(v) > 0 && v[0].End != nil && v[0].End.Before(cutoff)
}

// applyNotification opens an incident for a trigger (unless one with its start is open) and closes
// the incident of a resolve.
func applyNotification(v []incident, n notify.Notification, at time.Time) []incident {
	i := findIncident(v, n.StartsAt)
	if n.Action == notify.Trigger {
		if i < 0 {
			in := incident{Severity: n.Severity, NoData: n.NoData, Budget: n.Budget, Start: n.StartsAt}
			if w := n.Window; w != nil {
				in.Window = w.Long.String() + "/" + w.Short.String()
				in.LongBurn, in.ShortBurn, in.BurnRate = w.LongBurnRate, w.ShortBurnRate, w.BurnRate
			}
			v = append(v, in)
		}
		return v
	}
	if i < 0 {
		// A resolve of an incident the log does not hold (it was opened before the log existed).
		v = append(v, incident{Severity: n.Severity, NoData: n.NoData, Budget: n.Budget, Start: n.StartsAt})
		i = len(v) - 1
	}
	end := at
	if n.EndsAt != nil {
		end = n.EndsAt.UTC()
	}
	v[i].End, v[i].PeakBurnRate = &end, n.PeakBurnRate
	return v
}

// findIncident returns the index of the incident that started at start, or -1.
func findIncident(v []incident, start time.Time) int {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i].Start.Equal(start) {
			return i
		}
	}
	return -1
}

// setDelivery records d as the delivery of its receiver and action on the incident that started
// at start; nothing when the log does not hold that incident.
func setDelivery(v []incident, start time.Time, d delivery) []incident {
	i := findIncident(v, start)
	if i < 0 {
		return v
	}
	ds := v[i].Deliveries
	for j := range ds {
		if ds[j].Receiver == d.Receiver && ds[j].Action == d.Action {
			if d.Outcome == outcomePending {
				d.Attempts = 0
			}
			ds[j] = d
			return v
		}
	}
	if len(ds) < maxDeliveries {
		v[i].Deliveries = append(ds, d)
	}
	return v
}

// encode returns the store batch of an update: the meta values to write and the keys to delete.
func (u incidentUpdate) encode() (map[string][]byte, []string, error) {
	out := make(map[string][]byte, len(u.lists))
	for k, v := range u.lists {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, err
		}
		out[metaIncidents+k] = b
	}
	del := make([]string, len(u.deleted))
	for i, k := range u.deleted {
		del[i] = metaIncidents + k
	}
	return out, del, nil
}

// install makes a committed update the log's state (the caller holds mu).
func (l *incidentLog) install(u incidentUpdate) {
	for k, v := range u.lists {
		l.byKey[k] = v
	}
	for _, k := range u.deleted {
		delete(l.byKey, k)
	}
}

// observe records what the dispatcher did with a notification on its incident, in memory and
// in the store. A store failure is logged and counted: the notification's fate does not depend on
// it.
func (l *incidentLog) observe(d notify.Delivery) {
	e := d.Entry
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.byKey[e.Key]
	if findIncident(v, e.Notification.StartsAt) < 0 {
		return
	}
	v = setDelivery(cloneIncidents(v), e.Notification.StartsAt, delivery{Receiver: e.Receiver, Action: string(e.Notification.Action),
		Outcome: string(d.Outcome), At: d.At.UTC(), Attempts: e.Attempts, Error: e.LastError})
	l.byKey[e.Key] = v
	b, err := json.Marshal(v)
	if err == nil {
		err = l.store.PutMeta(metaIncidents+e.Key, b)
	}
	if err != nil {
		l.errors.Inc()
		l.log.Warn("recording a delivery on its incident", "dedup_key", e.Key, "err", err)
	}
}
