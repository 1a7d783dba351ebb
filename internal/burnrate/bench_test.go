package burnrate

import (
	"fmt"
	"testing"
	"time"
)

// filledHistory is a 30d History at a 1m step holding 31 days of traffic at 0.05% errors.
func filledHistory(b *testing.B) *History {
	b.Helper()
	h := NewHistory(time.Minute, 30*day)
	for i := 1; i <= 31*24*60; i++ {
		if err := h.Append(Increment{End: t0.Add(time.Duration(i) * time.Minute), Bad: 0.5, Total: 1000}); err != nil {
			b.Fatal(err)
		}
	}
	return h
}

// BenchmarkAppendEvaluate is one evaluation step of one SLO: append a 1m increment to a full 30d
// History and evaluate the default policy.
func BenchmarkAppendEvaluate(b *testing.B) {
	p := defaultPolicy()
	benchAppend(b, func(h *History, st State, end time.Time) State {
		st, _, _ = Evaluate(p, h, st, end)
		return st
	})
}

// BenchmarkAppendEvaluateCompiled is BenchmarkAppendEvaluate with the policy compiled once, as a
// backtest does.
func BenchmarkAppendEvaluateCompiled(b *testing.B) {
	c := Compile(defaultPolicy())
	benchAppend(b, func(h *History, st State, end time.Time) State {
		st, _, _ = c.Evaluate(h, st, end)
		return st
	})
}

// BenchmarkAppendAdvance is BenchmarkAppendEvaluateCompiled without the Status, as a backtest
// steps.
func BenchmarkAppendAdvance(b *testing.B) {
	c := Compile(defaultPolicy())
	benchAppend(b, func(h *History, st State, end time.Time) State {
		st, _ = c.Advance(h, st, end)
		return st
	})
}

// benchAppend appends a 1m increment to a full 30d History per op and moves the state on with
// step.
func benchAppend(b *testing.B, step func(h *History, st State, end time.Time) State) {
	h := filledHistory(b)
	var state State
	end := h.End()
	b.ReportAllocs()
	b.ReportMetric(float64(h.MemoryBytes()), "history-bytes")
	for b.Loop() {
		end = end.Add(time.Minute)
		if err := h.Append(Increment{End: end, Bad: 0.5, Total: 1000}); err != nil {
			b.Fatal(err)
		}
		state = step(h, state, end)
	}
}

// BenchmarkSum shows a window sum costs the same whatever the window's length.
func BenchmarkSum(b *testing.B) {
	h := filledHistory(b)
	for _, w := range []time.Duration{5 * time.Minute, 6 * time.Hour, 3 * day, 30 * day} {
		b.Run(fmt.Sprint("window=", w), func(b *testing.B) {
			var bad, total float64
			for b.Loop() {
				x, y := h.Sum(w)
				bad += x
				total += y
			}
			if total <= 0 {
				b.Fatal("no events summed")
			}
		})
	}
}

// BenchmarkMarshal is the cost of persisting a full 30d History each evaluation cycle.
func BenchmarkMarshal(b *testing.B) {
	h := filledHistory(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		buf, err := h.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		n = len(buf)
	}
	b.ReportMetric(float64(n), "bytes")
}
