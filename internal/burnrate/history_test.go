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

// t0 is a step-aligned start for synthetic data (a multiple of every step used in these tests).
var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// naive is the reference the tiered History is checked against: every increment at full
// resolution, indexed by step, summed with prefix sums.
type naive struct {
	step      time.Duration
	first     int64 // step index of the first increment's end
	prefixBad []float64
	prefixTot []float64
	maxInc    float64
}

func (n *naive) append(inc Increment) {
	i := inc.End.UnixNano() / int64(n.step)
	if len(n.prefixBad) == 0 {
		n.first = i
		n.prefixBad, n.prefixTot = []float64{0}, []float64{0}
	}
	for int64(len(n.prefixBad))-1 < i-n.first {
		n.prefixBad = append(n.prefixBad, n.prefixBad[len(n.prefixBad)-1])
		n.prefixTot = append(n.prefixTot, n.prefixTot[len(n.prefixTot)-1])
	}
	last := len(n.prefixBad) - 1
	n.prefixBad[last] += inc.Bad
	n.prefixTot[last] += inc.Total
	n.maxInc = math.Max(n.maxInc, math.Max(inc.Bad, inc.Total))
}

// sum over the last ws steps: prefix[last] − prefix[last−ws], clamped at the first step.
func (n *naive) sum(ws int) (bad, total float64) {
	last := len(n.prefixBad) - 1
	lo := last - ws
	if lo < 0 {
		// prefix[0] already holds the first increment; a window reaching before it covers all of it.
		return n.prefixBad[last], n.prefixTot[last]
	}
	return n.prefixBad[last] - n.prefixBad[lo], n.prefixTot[last] - n.prefixTot[lo]
}

func randomIncrement(r *rand.Rand, end time.Time, missingProb float64) Increment {
	if r.Float64() < missingProb {
		return Increment{End: end, Missing: true}
	}
	total := math.Floor(r.Float64() * 100)
	bad := math.Floor(r.Float64() * (total + 1))
	if r.IntN(10) == 0 {
		bad = 0
	}
	return Increment{End: end, Bad: bad, Total: total}
}

func TestNewHistoryTiers(t *testing.T) {
	tests := []struct {
		name      string
		step, max time.Duration
		wantCaps  []int
	}{
		{name: "1h at 1m: tier 0 only", step: time.Minute, max: time.Hour, wantCaps: []int{61}},
		{name: "6h at 1m: tier 0 only, exact", step: time.Minute, max: 6 * time.Hour, wantCaps: []int{361}},
		{name: "1d at 1m: two tiers", step: time.Minute, max: day, wantCaps: []int{361, 145}},
		{name: "3d at 1m: two tiers", step: time.Minute, max: 3 * day, wantCaps: []int{361, 433}},
		{name: "30d at 1m: DESIGN table", step: time.Minute, max: 30 * day, wantCaps: []int{361, 433, 721}},
		{name: "30d at 12s", step: 12 * time.Second, max: 30 * day, wantCaps: []int{361, 433, 3601}},
		{name: "28d+1m at 1m rounds up", step: time.Minute, max: 28*day + time.Minute, wantCaps: []int{361, 433, 674}},
		{name: "max shorter than step", step: time.Minute, max: time.Second, wantCaps: []int{2}},
		{name: "non-positive step defaults to 1m", step: 0, max: time.Hour, wantCaps: []int{61}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory(tt.step, tt.max)
			var caps []int
			for _, tr := range h.tiers {
				caps = append(caps, len(tr.pts))
			}
			if len(caps) != len(tt.wantCaps) {
				t.Fatalf("capacities %v, want %v", caps, tt.wantCaps)
			}
			for i := range caps {
				if caps[i] != tt.wantCaps[i] {
					t.Fatalf("capacities %v, want %v", caps, tt.wantCaps)
				}
			}
		})
	}
}

func TestHistoryMemory(t *testing.T) {
	h := NewHistory(time.Minute, 30*day)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= 31*24*60; i++ {
		if err := h.Append(randomIncrement(r, t0.Add(time.Duration(i)*time.Minute), 0.01)); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.MemoryBytes(); got > 32<<10 {
		t.Errorf("MemoryBytes() = %d, want <= 32 KiB", got)
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 32<<10 {
		t.Errorf("encoded size %d, want <= 32 KiB", len(b))
	}
}

// TestHistorySumMatchesNaive compares window sums with a full-resolution reference over random
// increments, for windows in every tier: exact up to tier 0's span, within one bucket of the tier
// used beyond.
func TestHistorySumMatchesNaive(t *testing.T) {
	windows := []time.Duration{
		time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour,
		6*time.Hour + time.Minute, 7*time.Hour + 13*time.Minute, day, 3 * day, 3*day + 7*time.Minute,
		10 * day, 29*day + 23*time.Hour, 30 * day,
	}
	tests := []struct {
		name        string
		step, max   time.Duration
		steps       int
		missingProb float64
		gapEvery    int // every gapEvery steps, skip a few steps (0: never)
	}{
		{name: "30d window at 1m", step: time.Minute, max: 30 * day, steps: 33 * 24 * 60},
		{name: "30d window at 1m with missing steps and gaps", step: time.Minute, max: 30 * day, steps: 32 * 24 * 60, missingProb: 0.05, gapEvery: 997},
		{name: "3d window at 1m", step: time.Minute, max: 3 * day, steps: 4 * 24 * 60},
		{name: "6h window at 1m", step: time.Minute, max: 6 * time.Hour, steps: 800},
		{name: "1d window at 5m", step: 5 * time.Minute, max: day, steps: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(tt.steps)))
			h := NewHistory(tt.step, tt.max)
			ref := &naive{step: tt.step}
			end := t0
			for s := 0; s < tt.steps; s++ {
				end = end.Add(tt.step)
				if tt.gapEvery > 0 && s%tt.gapEvery == tt.gapEvery-1 {
					end = end.Add(time.Duration(1+r.IntN(20)) * tt.step)
				}
				inc := randomIncrement(r, end, tt.missingProb)
				if err := h.Append(inc); err != nil {
					t.Fatal(err)
				}
				ref.append(inc)
				if s%97 != 0 && s < tt.steps-500 {
					continue
				}
				for _, w := range windows {
					if w > tt.max {
						continue
					}
					ws := int(ceilDiv(int64(w), int64(tt.step)))
					gotBad, gotTot := h.Sum(w)
					wantBad, wantTot := ref.sum(ws)
					tol := 1e-9 * math.Max(1, ref.prefixTot[len(ref.prefixTot)-1])
					switch {
					case ws <= 360:
					case ws <= 4320:
						tol += 10 * ref.maxInc
					default:
						tol += 60 * ref.maxInc
					}
					if math.Abs(gotBad-wantBad) > tol || math.Abs(gotTot-wantTot) > tol {
						t.Fatalf("step %d, window %s: Sum = (%v, %v), want (%v, %v) ± %v", s, w, gotBad, gotTot, wantBad, wantTot, tol)
					}
				}
			}
		})
	}
}

// TestHistorySumInterpolates checks the coarse tiers interpolate linearly inside a bucket: with a
// constant rate every window sum is exact whatever tier it falls in.
func TestHistorySumInterpolates(t *testing.T) {
	h := NewHistory(time.Minute, 30*day)
	for i := 1; i <= 31*24*60; i++ {
		if err := h.Append(Increment{End: t0.Add(time.Duration(i) * time.Minute), Bad: 1, Total: 4}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []time.Duration{7 * time.Minute, 6*time.Hour + 3*time.Minute, day + 17*time.Minute, 30 * day} {
		bad, total := h.Sum(w)
		n := w.Minutes()
		if math.Abs(bad-n) > 1e-6 || math.Abs(total-4*n) > 1e-6 {
			t.Errorf("Sum(%s) = (%v, %v), want (%v, %v)", w, bad, total, n, 4*n)
		}
	}
}

func TestHistoryGaps(t *testing.T) {
	step := time.Minute
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * step) }
	tests := []struct {
		name          string
		incs          []Increment
		window        time.Duration
		wantBad       float64
		wantTotal     float64
		wantStart     time.Time
		wantEnd       time.Time
		wantLastData  time.Time
		wantTier0Size int // points held in tier 0 after the appends
	}{
		{
			name:    "consecutive steps",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(2), Bad: 2, Total: 10}},
			window:  time.Hour,
			wantBad: 3, wantTotal: 20, wantStart: at(0), wantEnd: at(2), wantLastData: at(2),
		},
		{
			name:    "gap filled as missing steps",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(11), Bad: 5, Total: 50}},
			window:  2 * time.Minute,
			wantBad: 5, wantTotal: 50, wantStart: at(0), wantEnd: at(11), wantLastData: at(11),
		},
		{
			name:    "gap: window over both sides",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(11), Bad: 5, Total: 50}},
			window:  11 * time.Minute,
			wantBad: 6, wantTotal: 60, wantStart: at(0), wantEnd: at(11), wantLastData: at(11),
		},
		{
			name:    "gap: window inside the gap only sees the catch-up step",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(11), Bad: 5, Total: 50}},
			window:  time.Minute,
			wantBad: 5, wantTotal: 50, wantStart: at(0), wantEnd: at(11), wantLastData: at(11),
		},
		{
			name:    "missing step keeps last data",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(2), Missing: true}},
			window:  time.Hour,
			wantBad: 1, wantTotal: 10, wantStart: at(0), wantEnd: at(2), wantLastData: at(1),
		},
		{
			name:    "gap of exactly max window is filled",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(62), Bad: 2, Total: 10}},
			window:  time.Hour + 2*time.Minute,
			wantBad: 3, wantTotal: 20, wantStart: at(0), wantEnd: at(62), wantLastData: at(62),
		},
		{
			name:    "gap longer than max window resets",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(63), Bad: 2, Total: 10}},
			window:  time.Hour,
			wantBad: 2, wantTotal: 10, wantStart: at(62), wantEnd: at(63), wantLastData: at(63),
		},
		{
			name:    "reset keeps last data when the new step is missing",
			incs:    []Increment{{End: at(1), Bad: 1, Total: 10}, {End: at(100), Missing: true}},
			window:  time.Hour,
			wantBad: 0, wantTotal: 0, wantStart: at(99), wantEnd: at(100), wantLastData: at(1),
		},
		{
			name:    "only missing steps",
			incs:    []Increment{{End: at(5), Missing: true}, {End: at(6), Missing: true}},
			window:  time.Hour,
			wantBad: 0, wantTotal: 0, wantStart: at(4), wantEnd: at(6), wantLastData: time.Time{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory(step, time.Hour)
			for _, inc := range tt.incs {
				if err := h.Append(inc); err != nil {
					t.Fatal(err)
				}
			}
			bad, total := h.Sum(tt.window)
			if math.Abs(bad-tt.wantBad) > 1e-9 || math.Abs(total-tt.wantTotal) > 1e-9 {
				t.Errorf("Sum(%s) = (%v, %v), want (%v, %v)", tt.window, bad, total, tt.wantBad, tt.wantTotal)
			}
			if !h.Start().Equal(tt.wantStart) || !h.End().Equal(tt.wantEnd) || !h.LastData().Equal(tt.wantLastData) {
				t.Errorf("Start, End, LastData = %v, %v, %v; want %v, %v, %v", h.Start(), h.End(), h.LastData(), tt.wantStart, tt.wantEnd, tt.wantLastData)
			}
		})
	}
}

func TestHistoryAppendErrors(t *testing.T) {
	step := time.Minute
	tests := []struct {
		name    string
		h       *History
		inc     Increment
		wantErr string
	}{
		{name: "not on the step grid", inc: Increment{End: t0.Add(time.Hour + 30*time.Second), Total: 1}, wantErr: "not a multiple of the step"},
		{name: "same end", inc: Increment{End: t0.Add(time.Hour), Total: 1}, wantErr: "not after the last step"},
		{name: "earlier end", inc: Increment{End: t0.Add(time.Minute), Total: 1}, wantErr: "not after the last step"},
		{name: "negative bad (unclamped counter reset)", inc: Increment{End: t0.Add(61 * time.Minute), Bad: -3, Total: 1}, wantErr: "bad count -3"},
		{name: "negative total", inc: Increment{End: t0.Add(61 * time.Minute), Total: -1}, wantErr: "total count -1"},
		{name: "NaN", inc: Increment{End: t0.Add(61 * time.Minute), Bad: math.NaN(), Total: 1}, wantErr: "bad count NaN"},
		{name: "infinite", inc: Increment{End: t0.Add(61 * time.Minute), Total: math.Inf(1)}, wantErr: "total count +Inf"},
		{name: "missing with counts", inc: Increment{End: t0.Add(61 * time.Minute), Total: 1, Missing: true}, wantErr: "missing step"},
		{name: "zero History", h: &History{}, inc: Increment{End: t0.Add(61 * time.Minute), Total: 1}, wantErr: "not created with NewHistory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = NewHistory(step, 30*day)
				if err := h.Append(Increment{End: t0.Add(time.Hour), Bad: 1, Total: 2}); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := h.MarshalBinary()
			err := h.Append(tt.inc)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Append(%+v) error = %v, want one containing %q", tt.inc, err, tt.wantErr)
			}
			after, _ := h.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Error("a rejected Append changed the History")
			}
		})
	}
}

func buildHistory(t testing.TB, step, max time.Duration, steps int, seed uint64, missingProb float64) *History {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 99))
	h := NewHistory(step, max)
	end := t0
	for i := 0; i < steps; i++ {
		end = end.Add(step)
		if r.IntN(500) == 0 {
			end = end.Add(time.Duration(r.IntN(30)) * step)
		}
		if err := h.Append(randomIncrement(r, end, missingProb)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestHistoryMarshalRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		step, max time.Duration
		steps     int
		missing   float64
	}{
		{name: "empty", step: time.Minute, max: 30 * day},
		{name: "one step", step: time.Minute, max: 30 * day, steps: 1},
		{name: "only missing", step: time.Minute, max: time.Hour, steps: 10, missing: 1},
		{name: "tier 0 only, wrapped", step: time.Minute, max: time.Hour, steps: 500},
		{name: "two tiers, partly filled", step: time.Minute, max: 3 * day, steps: 2000},
		{name: "30d at 1m, wrapped", step: time.Minute, max: 30 * day, steps: 31 * 24 * 60, missing: 0.02},
		{name: "30d at 10s", step: 10 * time.Second, max: 30 * day, steps: 20000},
	}
	windows := []time.Duration{time.Minute, time.Hour, 6 * time.Hour, day, 3 * day, 30 * day}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := buildHistory(t, tt.step, tt.max, tt.steps, uint64(tt.steps), tt.missing)
			b, err := h.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var g History
			if err := g.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if g.Step() != h.Step() || g.MaxWindow() != h.MaxWindow() || !g.Start().Equal(h.Start()) || !g.End().Equal(h.End()) || !g.LastData().Equal(h.LastData()) {
				t.Fatalf("decoded (%s %s %v %v %v), want (%s %s %v %v %v)", g.Step(), g.MaxWindow(), g.Start(), g.End(), g.LastData(),
					h.Step(), h.MaxWindow(), h.Start(), h.End(), h.LastData())
			}
			b2, _ := g.MarshalBinary()
			if !bytes.Equal(b, b2) {
				t.Error("re-encoding the decoded History differs")
			}
			// Both must go on identically.
			next := h.End().Add(h.Step())
			if h.End().IsZero() {
				next = t0.Add(h.Step())
			}
			for i := 0; i < 3; i++ {
				inc := Increment{End: next.Add(time.Duration(i) * h.Step()), Bad: 1, Total: 3}
				if err := h.Append(inc); err != nil {
					t.Fatal(err)
				}
				if err := g.Append(inc); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range windows {
				hb, ht := h.Sum(w)
				gb, gt := g.Sum(w)
				if hb != gb || ht != gt {
					t.Errorf("Sum(%s): decoded (%v, %v), original (%v, %v)", w, gb, gt, hb, ht)
				}
			}
		})
	}
}

func TestHistoryUnmarshalCorrupt(t *testing.T) {
	h := buildHistory(t, time.Minute, day, 3000, 5, 0.05)
	good, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	header := len(historyMagic) + 1
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	nan := math.Float64bits(math.NaN())
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "empty", data: nil, wantErr: "bad magic"},
		{name: "wrong magic", data: mutate(func(b []byte) []byte { b[0] = 'X'; return b }), wantErr: "bad magic"},
		{name: "unknown version", data: mutate(func(b []byte) []byte { b[4] = 9; return b }), wantErr: "unsupported version 9"},
		{name: "header only", data: good[:header], wantErr: "truncated"},
		{name: "truncated points", data: good[:len(good)-3], wantErr: "truncated"},
		{name: "trailing bytes", data: append(bytes.Clone(good), 0), wantErr: "trailing bytes"},
		{name: "NaN point", data: mutate(func(b []byte) []byte {
			for i := 0; i < 8; i++ {
				b[len(b)-8+i] = byte(nan >> (8 * i))
			}
			return b
		}), wantErr: "not a finite number"},
		{name: "decreasing points", data: mutate(func(b []byte) []byte {
			// Zero the total of the last point of the last tier: below the ones before it.
			for i := 0; i < 8; i++ {
				b[len(b)-8+i] = 0
			}
			return b
		}), wantErr: "not increasing"},
		{name: "huge max window", data: func() []byte {
			b := []byte(historyMagic)
			b = append(b, historyVersion)
			b = binary.AppendVarint(b, int64(time.Millisecond))
			b = binary.AppendVarint(b, int64(365*day))
			return append(b, 0)
		}(), wantErr: "invalid step"},
		{name: "unknown flags", data: func() []byte {
			b := []byte(historyMagic)
			b = append(b, historyVersion)
			b = binary.AppendVarint(b, int64(time.Minute))
			b = binary.AppendVarint(b, int64(time.Hour))
			return append(b, 0x80)
		}(), wantErr: "unknown flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewHistory(time.Minute, time.Hour)
			err := g.UnmarshalBinary(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("UnmarshalBinary error = %v, want one containing %q", err, tt.wantErr)
			}
			if g.MaxWindow() != time.Hour {
				t.Error("a failed UnmarshalBinary changed the History")
			}
		})
	}

	t.Run("every truncation fails", func(t *testing.T) {
		for n := 0; n < len(good); n++ {
			var g History
			if err := g.UnmarshalBinary(good[:n]); err == nil {
				t.Fatalf("UnmarshalBinary of the first %d of %d bytes succeeded", n, len(good))
			}
		}
	})
	t.Run("random corruption never panics", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < 5000; i++ {
			b := bytes.Clone(good)
			for j := 0; j < 1+r.IntN(4); j++ {
				// Mostly the header, where corruption is most dangerous.
				pos := r.IntN(min(len(b), 40))
				if r.IntN(4) == 0 {
					pos = r.IntN(len(b))
				}
				b[pos] = byte(r.IntN(256))
			}
			var g History
			if g.UnmarshalBinary(b) == nil {
				// Whatever decoded must be usable.
				g.Sum(30 * day)
				_ = g.Append(Increment{End: g.End().Add(g.Step()), Total: 1})
			}
		}
	})
}

// FuzzHistoryUnmarshal: no input makes UnmarshalBinary panic, and whatever it accepts encodes back
// to the same bytes and can be used.
func FuzzHistoryUnmarshal(f *testing.F) {
	for _, steps := range []int{0, 1, 100, 1500} {
		h := buildHistory(f, time.Minute, day, steps, uint64(steps), 0.1)
		b, err := h.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h History
		if err := h.UnmarshalBinary(data); err != nil {
			return
		}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		// The current encoding has exactly one form; the first one is re-encoded as the current.
		if data[len(historyMagic)] == historyVersion && !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, data)
		}
		h.Sum(h.MaxWindow())
		h.Points(h.Start(), h.End())
	})
}

func TestHistoryUnmarshalOverlongVarint(t *testing.T) {
	header := func(step []byte) []byte {
		b := append([]byte(historyMagic), historyVersion)
		b = append(b, step...)
		b = binary.AppendVarint(b, int64(time.Hour))
		return append(b, 0)
	}
	canonical := binary.AppendVarint(nil, int64(time.Minute))
	var h History
	if err := h.UnmarshalBinary(header(canonical)); err != nil {
		t.Fatalf("canonical input refused: %v", err)
	}
	// The same value with a redundant continuation byte.
	overlong := append(bytes.Clone(canonical), 0)
	overlong[len(canonical)-1] |= 0x80
	if v, n := binary.Varint(overlong); v != int64(time.Minute) || n != len(overlong) {
		t.Fatalf("bad test case: %x decodes to %d, %d", overlong, v, n)
	}
	if err := h.UnmarshalBinary(header(overlong)); err == nil || !strings.Contains(err.Error(), "invalid step") {
		t.Fatalf("overlong varint: error %v, want invalid step", err)
	}
}

func TestHistorySumEdges(t *testing.T) {
	h := NewHistory(time.Minute, time.Hour)
	for i := 1; i <= 200; i++ {
		if err := h.Append(Increment{End: t0.Add(time.Duration(i) * time.Minute), Bad: 1, Total: 2}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		h       *History
		w       time.Duration
		wantBad float64
	}{
		{name: "zero window", h: h, w: 0, wantBad: 0},
		{name: "negative window", h: h, w: -time.Hour, wantBad: 0},
		{name: "part of a step rounds up to the step", h: h, w: 30 * time.Second, wantBad: 1},
		{name: "90s rounds up to two steps", h: h, w: 90 * time.Second, wantBad: 2},
		{name: "max window", h: h, w: time.Hour, wantBad: 60},
		{name: "longer than max window: cut at the oldest point held", h: h, w: 2 * time.Hour, wantBad: 60},
		{name: "empty history", h: NewHistory(time.Minute, time.Hour), w: time.Hour, wantBad: 0},
		{name: "zero History", h: &History{}, w: time.Hour, wantBad: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad, total := tt.h.Sum(tt.w)
			if math.Abs(bad-tt.wantBad) > 1e-9 || math.Abs(total-2*tt.wantBad) > 1e-9 {
				t.Errorf("Sum(%s) = (%v, %v), want (%v, %v)", tt.w, bad, total, tt.wantBad, 2*tt.wantBad)
			}
		})
	}
}

// TestStatusKnowsNoData: a window without a step with data is unknown (NoData), not a burn of 0;
// a window whose steps had data without traffic is a known 0.
func TestStatusKnowsNoData(t *testing.T) {
	p := Policy{Objective: 0.99, Period: 24 * time.Hour, Windows: []Window{{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 10}}}
	h := NewHistory(time.Minute, p.Period)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if st := Compile(p).Status(h, t0); !st.NoData || !st.CurrentNoData {
		t.Errorf("empty history: %+v, want everything unknown", st)
	}
	for m := 1; m <= 30; m++ { // 30 minutes of data without traffic, then 20 without data
		if err := h.Append(Increment{End: t0.Add(time.Duration(m) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Append(Increment{End: t0.Add(50 * time.Minute), Missing: true}); err != nil {
		t.Fatal(err)
	}
	st := Compile(p).Status(h, t0.Add(50*time.Minute))
	want := map[time.Duration]bool{5 * time.Minute: true, time.Hour: false, 24 * time.Hour: false}
	for _, w := range st.Windows {
		if w.NoData != want[w.Window] {
			t.Errorf("window %s: NoData %v, want %v", w.Window, w.NoData, want[w.Window])
		}
	}
	if st.NoData || st.CurrentNoData || st.BudgetRemaining != 1 {
		t.Errorf("status %+v: the period and the current hour had data (without traffic): known, full budget", st)
	}
	if !h.HasDataIn(21*time.Minute) || h.HasDataIn(20*time.Minute) {
		t.Errorf("HasDataIn: the last step with data ends 20 minutes before the end")
	}
}
