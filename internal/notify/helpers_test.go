package notify

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// testKey is a syntactically valid routing key that must never show up in any output.
const testKey = "R0UT1NGK3Y0123456789abcdefSECRET"

var t0 = time.Date(2026, 10, 4, 6, 1, 0, 0, time.UTC)

// sampleNotification is a page trigger for chat-api/availability.
func sampleNotification(action Action) Notification {
	ttl := model.Duration(50 * time.Hour)
	n := Notification{
		DedupKey:  DedupKey("chat-api", "availability", "page", false),
		Action:    Trigger,
		Service:   "chat-api",
		SLO:       "availability",
		Severity:  "page",
		AlertName: "SLOBurnRate",
		Labels: map[string]string{
			"alertname": "SLOBurnRate", "service": "chat-api", "slo": "availability", "severity": "page",
			"team": "assistant", "component": "chat",
		},
		Annotations: map[string]string{"summary": "chat-api is burning its error budget"},
		Summary:     "chat-api is burning its error budget",
		Description: "Chat requests answered without a server error.",
		Objective:   0.999,
		Window: &FiredWindow{Long: model.Duration(time.Hour), Short: model.Duration(5 * time.Minute),
			BurnRate: 14.4, Threshold: 0.0144, LongBurnRate: 20.1, ShortBurnRate: 31.7},
		PeakBurnRate:     31.7,
		BudgetRemaining:  0.42,
		TimeToExhaustion: &ttl,
		RunbookURL:       "https://runbooks.example/chat-api/availability",
		StatusURL:        "https://slod.example/slo/chat-api/availability",
		StartsAt:         t0,
	}
	if action == Resolve {
		n = n.resolved(t0.Add(39 * time.Minute))
	}
	return n
}

// notificationFor is sampleNotification for another SLO name.
func notificationFor(name string, action Action) Notification {
	n := sampleNotification(Trigger)
	n.SLO = name
	n.DedupKey = DedupKey("chat-api", name, "page", false)
	n.Labels["slo"] = name
	if action == Resolve {
		n = n.resolved(t0.Add(time.Hour))
	}
	return n
}

// logBuffer is a concurrency-safe sink for slog output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	t.Helper()
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
