package burnrate

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// stepLog is every increment appended, by step index, the reference Points are checked against.
type stepLog map[int64]Increment

func buildLogged(t *testing.T, step, max time.Duration, steps int, seed uint64, missing float64) (*History, stepLog) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	h := NewHistory(step, max)
	log := stepLog{}
	end := t0
	for i := 0; i < steps; i++ {
		end = end.Add(step)
		if r.IntN(300) == 0 {
			end = end.Add(time.Duration(r.IntN(20)) * step) // a gap: filled as Missing
		}
		inc := randomIncrement(r, end, missing)
		if err := h.Append(inc); err != nil {
			t.Fatal(err)
		}
		log[end.UnixNano()/int64(step)] = inc
	}
	return h, log
}

// sum is the reference over (a, b]: events and steps with data (a step absent from the log is a
// filled gap, Missing).
func (l stepLog) sum(a, b time.Time, step time.Duration) (bad, total float64, data int) {
	for i := a.UnixNano()/int64(step) + 1; i <= b.UnixNano()/int64(step); i++ {
		if inc, ok := l[i]; ok && !inc.Missing {
			bad, total, data = bad+inc.Bad, total+inc.Total, data+1
		}
	}
	return bad, total, data
}

func TestHistoryPoints(t *testing.T) {
	tests := []struct {
		name      string
		step, max time.Duration
		steps     int
		missing   float64
		// wantRes is the interval length in steps expected at a few ages (in steps before End).
		wantRes map[int]int
	}{
		{name: "1h, tier 0 only, wrapped", step: time.Minute, max: time.Hour, steps: 500, missing: 0.1, wantRes: map[int]int{0: 1, 59: 1}},
		{name: "3d, partly filled", step: time.Minute, max: 3 * day, steps: 2000, missing: 0.2, wantRes: map[int]int{0: 1, 300: 1, 1000: 10}},
		{name: "30d, wrapped", step: time.Minute, max: 30 * day, steps: 31 * 24 * 60, missing: 0.05,
			wantRes: map[int]int{0: 1, 359: 1, 400: 10, 4000: 10, 5000: 60, 40000: 60}},
		{name: "all missing", step: time.Minute, max: day, steps: 600, missing: 1, wantRes: map[int]int{0: 1, 500: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, log := buildLogged(t, tt.step, tt.max, tt.steps, uint64(tt.steps), tt.missing)
			pts := h.Points(time.Time{}, h.End())
			if len(pts) == 0 || !pts[len(pts)-1].End.Equal(h.End()) {
				t.Fatalf("Points end at %v, want End %v", pts[len(pts)-1].End, h.End())
			}
			res := map[int]int{}
			for i, p := range pts {
				if i > 0 && !p.Start.Equal(pts[i-1].End) {
					t.Fatalf("point %d starts at %v, the previous ends at %v", i, p.Start, pts[i-1].End)
				}
				if p.Steps <= 0 || p.Steps > 60 || p.DataSteps < 0 || p.DataSteps > p.Steps {
					t.Fatalf("point %d: %d steps, %d with data", i, p.Steps, p.DataSteps)
				}
				bad, total, data := log.sum(p.Start, p.End, tt.step)
				if !close(bad, p.Bad) || !close(total, p.Total) || data != p.DataSteps {
					t.Fatalf("point %d (%v, %v]: (%v, %v, %d data steps), want (%v, %v, %d)", i, p.Start, p.End,
						p.Bad, p.Total, p.DataSteps, bad, total, data)
				}
				age := int(h.End().Sub(p.End) / tt.step)
				for a := age; a < age+p.Steps; a++ {
					res[a] = p.Steps
				}
			}
			for age, want := range tt.wantRes {
				if got := res[age]; got != want {
					t.Errorf("resolution %d steps before End = %d steps, want %d", age, got, want)
				}
			}
			// A range selects by end.
			from, to := h.End().Add(-30*tt.step), h.End().Add(-10*tt.step)
			for _, p := range h.Points(from, to) {
				if p.End.Before(from) || p.End.After(to) {
					t.Errorf("Points(%v, %v) holds one ending at %v", from, to, p.End)
				}
			}
		})
	}
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestHistoryBetween(t *testing.T) {
	h, log := buildLogged(t, time.Minute, 3*day, 3000, 11, 0.1)
	end := h.End()
	for _, span := range []struct{ from, to time.Duration }{{time.Hour, 0}, {6 * time.Hour, time.Hour}, {5 * time.Hour, 2 * time.Hour}, {time.Minute, 0}} {
		from, to := end.Add(-span.from), end.Add(-span.to)
		bad, total := h.Between(from, to)
		wb, wt, _ := log.sum(from, to, time.Minute)
		if !close(bad, wb) || !close(total, wt) {
			t.Errorf("Between(end-%s, end-%s) = (%v, %v), want (%v, %v)", span.from, span.to, bad, total, wb, wt)
		}
	}
	// Between up to End is Sum.
	bad, total := h.Between(end.Add(-time.Hour), end.Add(time.Hour))
	sb, st := h.Sum(time.Hour)
	if bad != sb || total != st {
		t.Errorf("Between(end-1h, after end) = (%v, %v), Sum(1h) = (%v, %v)", bad, total, sb, st)
	}
	if b, tot := h.Between(end, end.Add(-time.Hour)); b != 0 || tot != 0 {
		t.Errorf("an empty range sums (%v, %v)", b, tot)
	}
}

func TestHistoryClone(t *testing.T) {
	h, _ := buildLogged(t, time.Minute, day, 500, 3, 0.1)
	c := h.Clone()
	end, points := c.End(), c.Points(time.Time{}, c.End())
	for i := 1; i <= 100; i++ {
		if err := h.Append(Increment{End: end.Add(time.Duration(i) * time.Minute), Bad: 5, Total: 5}); err != nil {
			t.Fatal(err)
		}
	}
	after := c.Points(time.Time{}, c.End())
	if !c.End().Equal(end) || len(after) != len(points) {
		t.Fatalf("appending to the History changed its clone: end %v, %d points; was %v, %d", c.End(), len(after), end, len(points))
	}
	for i := range points {
		if points[i] != after[i] {
			t.Fatalf("appending to the History changed its clone's point %d: %+v, was %+v", i, after[i], points[i])
		}
	}
}

// TestHistoryDecodesVersion1 reads the first encoding, without counts: its intervals are of data
// when they counted events and of unknown data (none) when they did not; steps appended after
// decoding are counted.
func TestHistoryDecodesVersion1(t *testing.T) {
	h, _ := buildLogged(t, time.Minute, day, 600, 5, 0.3)
	v2, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v1 := toVersion1(t, h, v2)
	var g History
	if err := g.UnmarshalBinary(v1); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Points(time.Time{}, g.End()) {
		want := 0
		if p.Total > 0 || p.Bad > 0 {
			want = p.Steps
		}
		if p.DataSteps != want {
			t.Fatalf("decoded from version 1, (%v, %v] with %v events has %d data steps, want %d", p.Start, p.End, p.Total, p.DataSteps, want)
		}
	}
	end := g.End()
	_ = g.Append(Increment{End: end.Add(time.Minute), Total: 0})
	_ = g.Append(Increment{End: end.Add(2 * time.Minute), Missing: true})
	pts := g.Points(end.Add(time.Second), g.End())
	if len(pts) != 2 || pts[0].DataSteps != 1 || pts[1].DataSteps != 0 {
		t.Errorf("steps appended after decoding: %+v, want one with data (no traffic) and one without", pts)
	}
	b, _ := g.MarshalBinary()
	if b[len(historyMagic)] != historyVersion {
		t.Errorf("re-encoded as version %d, want %d", b[len(historyMagic)], historyVersion)
	}
}

// toVersion1 re-encodes h's version-2 encoding b as the first encoding: the same header without
// the counts.
func toVersion1(t *testing.T, h *History, b []byte) []byte {
	t.Helper()
	d := &decoder{b: b[len(historyMagic)+1:]}
	d.varint("step")
	d.varint("max window")
	d.byte("flags")
	d.varint("start")
	d.varint("length")
	d.cum("sums")
	if h.hasData {
		d.varint("last data")
	}
	headerEnd := len(b) - len(d.b)
	d.byte("count")
	d.varint("counts from")
	held := 0
	for k := range h.tiers {
		held += h.heldCount(k)
	}
	points := d.b[held:]
	out := append([]byte(nil), b[:headerEnd]...)
	out[len(historyMagic)] = historyVersionV1
	return append(out, points...)
}

func TestHistoryUnmarshalCorruptCounts(t *testing.T) {
	h, _ := buildLogged(t, time.Minute, time.Hour, 40, 9, 0.2)
	good, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The counts follow the header: find them by re-encoding the header.
	hdr := append([]byte(historyMagic), historyVersion)
	hdr = binary.AppendVarint(hdr, int64(h.step))
	hdr = binary.AppendVarint(hdr, int64(h.maxWindow))
	hdr = append(hdr, flagHas|flagHasData)
	hdr = binary.AppendVarint(hdr, h.start)
	hdr = binary.AppendVarint(hdr, h.end-h.start)
	hdr = appendCum(hdr, h.cur)
	hdr = binary.AppendVarint(hdr, h.lastData)
	if !bytes.HasPrefix(good, hdr) {
		t.Fatal("unexpected header layout")
	}
	countsAt := len(hdr) + 1 + len(binary.AppendVarint(nil, h.countsFrom-h.start))
	for _, tt := range []struct {
		name    string
		mutate  func(b []byte)
		wantErr string
	}{
		{name: "count jumps", mutate: func(b []byte) { b[countsAt+5] += 7 }, wantErr: "steps with data in 1 steps"},
		{name: "end count differs", mutate: func(b []byte) { b[len(hdr)]++ }, wantErr: "differs from the count at the end"},
		{name: "counts start after the end", mutate: func(b []byte) { b[len(hdr)+1] = 0x7e }, wantErr: "outside the history"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			tt.mutate(b)
			var g History
			if err := g.UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("UnmarshalBinary error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
