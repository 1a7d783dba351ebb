package store

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// historyBytes is the size of one SLO's History per DESIGN.md §3: about 1,500 points × 16 bytes.
const historyBytes = 24 << 10

// BenchmarkCommit measures one daemon cycle: 1,000 SLO records of 24 KiB history each, a few
// outbox entries and a meta value, in one synced transaction. Besides ns/op it reports the bytes
// handed to write(2) per cycle (from /proc/self/io, where available) and the file size reached.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			hist := bytes.Repeat([]byte{0x5a}, historyBytes)
			state := []byte(`{"Alerts":[{"Severity":"page","Phase":"inactive"},{"Severity":"ticket","Phase":"inactive"}]}`)
			c := Cycle{SLOs: make([]SLORecord, n), Meta: map[string][]byte{}}
			for i := range c.SLOs {
				c.SLOs[i] = SLORecord{ID: fmt.Sprintf("service-%03d/slo-%d", i/10, i%10), History: hist, State: state}
			}
			perCycle := int64(n * (historyBytes + len(state)))
			b.SetBytes(perCycle)
			// The first cycle inserts; the ones measured replace, as a running daemon does.
			if _, err := s.Commit(c); err != nil {
				b.Fatal(err)
			}
			w0, ioOK := writtenBytes()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now := time.Unix(1_790_000_000+int64(i)*60, 0)
				for j := range c.SLOs {
					c.SLOs[j].UpdatedAt = now
				}
				c.Outbox = []OutboxEntry{{Receiver: "oncall", Key: "slod/service-000/slo-0/page", Payload: []byte(`{"event_action":"trigger"}`), Created: now}}
				c.Meta["last_cycle"] = []byte(now.Format(time.RFC3339))
				if _, err := s.Commit(c); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if w1, ok := writtenBytes(); ok && ioOK {
				b.ReportMetric(float64(w1-w0)/float64(b.N), "written-B/op")
			}
			b.ReportMetric(float64(s.Size()), "file-B")
		})
	}
}

// writtenBytes is the process's wchar from /proc/self/io: bytes passed to write-like system
// calls, which for bbolt is what a commit writes (pages plus meta).
func writtenBytes() (int64, bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// benchStore returns the directory of a store holding n SLO records of 24 KiB history, left as
// a crash would leave it (clean-shutdown flag cleared).
func benchStore(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	hist := bytes.Repeat([]byte{0x5a}, historyBytes)
	c := Cycle{SLOs: make([]SLORecord, n)}
	for i := range c.SLOs {
		c.SLOs[i] = SLORecord{ID: fmt.Sprintf("service-%03d/slo-%d", i/10, i%10), History: hist, State: []byte("{}")}
	}
	for i := 0; i < 3; i++ { // a few cycles, so that the file has freed pages as a live one does
		if _, err := s.Commit(c); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.db.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkOpenAfterCrash measures the start-up cost of the full validation Open runs when the
// store was not closed cleanly (1,000 SLOs): every record decoded plus bbolt's tx.Check.
func BenchmarkOpenAfterCrash(b *testing.B) {
	dir := benchStore(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.db.Close(); err != nil { // stay "crashed" for the next round
			b.Fatal(err)
		}
	}
}

// BenchmarkBackup measures a snapshot of a 1,000-SLO store into memory.
func BenchmarkBackup(b *testing.B) {
	s, err := Open(benchStore(b, 1000))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		n, err := s.Backup(&buf)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
	}
}
