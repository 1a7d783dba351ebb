// Package examplegen generates deterministic, realistic-looking recorded metrics (OpenMetrics with
// timestamps) for slod's shipped example and for the tests that compare slod with Prometheus. The
// same seed and configuration always give the same bytes, so a checked-in file can be verified by
// regenerating it.
//
// Traffic is a Poisson process per scrape interval; errors and latency buckets are binomial draws
// out of the requests of that interval, so counters stay consistent (errors ≤ requests, buckets
// cumulative, le="+Inf" equal to _count) the way a real client library keeps them.
package examplegen

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/slod-dev/slod/internal/check"
)

// Func is a quantity that varies over time: a request rate, an error ratio, a gauge's value.
type Func func(t time.Time) float64

// Const is a Func that never changes.
func Const(v float64) Func { return func(time.Time) float64 { return v } }

// Diurnal is base × (1 + amplitude·sin) with a 24 h period peaking at peakHour UTC: the daily swing
// of user traffic.
func Diurnal(base, amplitude float64, peakHour float64) Func {
	return func(t time.Time) float64 {
		h := float64(t.Unix()%86400) / 3600
		return base * (1 + amplitude*math.Cos(2*math.Pi*(h-peakHour)/24))
	}
}

// Span is the half-open time range [Start, End).
type Span struct{ Start, End time.Time }

// Contains reports whether t is inside the span.
func (s Span) Contains(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// Incident overrides a Func inside a span: value is used instead of the base there. Ramp, when set,
// blends linearly from the base into the incident value over the first Ramp of the span, like a
// degradation that builds up rather than a step.
func Incident(base Func, span Span, ramp time.Duration, value Func) Func {
	return func(t time.Time) float64 {
		if !span.Contains(t) {
			return base(t)
		}
		if ramp > 0 {
			if d := t.Sub(span.Start); d < ramp {
				f := float64(d) / float64(ramp)
				return (1-f)*base(t) + f*value(t)
			}
		}
		return value(t)
	}
}

// HTTP describes a request-serving job: a request counter by code (Requests, default
// http_requests_total) and a latency histogram (Duration, default http_request_duration_seconds;
// _bucket and _count, no _sum: no SLI reads it, and the example file stays smaller).
type HTTP struct {
	Requests, Duration string
	// RPS is the request rate per second.
	RPS Func
	// ErrorRatio is the share of requests answered with code 500; ClientErrorRatio the share
	// answered with 429 (not a server error, so SLIs must not count it; 0 leaves the series out).
	ErrorRatio       Func
	ClientErrorRatio float64
	// LatencyMedian (seconds) and LatencySigma describe a log-normal latency distribution; a nil
	// LatencyMedian leaves the histogram out.
	LatencyMedian Func
	LatencySigma  float64
	// Buckets are the histogram's upper bounds, ascending, without +Inf.
	Buckets []float64
	// Labels are added to the request and duration series (a model the requests went to, say;
	// a job label here overrides the job's name).
	Labels []check.Label
}

// Counter is a plain counter. With Of set, each interval's increment is a binomial draw with
// probability Ratio out of the increment of the counter named Of in the same job, or out of all the
// job's requests when Of is the HTTP request counter's name (safety-filter hits out of model
// requests); with Noise set it is a continuous quantity (CPU seconds): Rate·dt times
// (1 + Noise·N(0,1)), rounded to milliunits; otherwise it is a Poisson draw at Rate per second.
type Counter struct {
	Name   string
	Labels []check.Label
	Rate   Func
	Of     string
	Ratio  Func
	Noise  float64
}

// Gauge is a gauge whose value is Value(t) plus Gaussian noise of standard deviation Noise, rounded
// to Round (0: no rounding) and clamped to [Min, Max] when Max > Min.
type Gauge struct {
	Name     string
	Labels   []check.Label
	Value    Func
	Noise    float64
	Round    float64
	Min, Max float64
}

// Job is one scrape target.
type Job struct {
	// Name is the job label of every series the job exposes (gauges included, unless their own
	// Labels set job).
	Name string
	// Scrape is the scrape interval and Offset the scrape time within it (scrapes are at
	// Start + Offset + k·Scrape).
	Scrape, Offset time.Duration
	// Gaps are spans without scrapes (the target was unreachable); counters keep counting.
	Gaps []Span
	// Restarts are times at which the process restarts: counters start again from zero.
	Restarts []time.Time
	HTTP     *HTTP
	Counters []Counter
	Gauges   []Gauge
}

// Config is a whole recording.
type Config struct {
	Start, End time.Time
	Seed       uint64
	Jobs       []Job
}

// Generate produces every series of the recording, samples ascending, in no particular series order
// (check.WriteOpenMetrics orders them).
func Generate(cfg Config) ([]check.Series, error) {
	var out []check.Series
	for _, j := range cfg.Jobs {
		s, err := generateJob(cfg, j)
		if err != nil {
			return nil, fmt.Errorf("generating job %q: %w", j.Name, err)
		}
		out = append(out, s...)
	}
	return out, nil
}

// series accumulates one counter or gauge.
type series struct {
	s   check.Series
	val float64
}

func generateJob(cfg Config, j Job) ([]check.Series, error) {
	if j.Scrape <= 0 {
		return nil, fmt.Errorf("scrape interval must be positive")
	}
	h := fnv.New64a()
	h.Write([]byte(j.Name))
	rng := rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))

	var all []*series
	mk := func(name string, ls ...check.Label) *series {
		labels := []check.Label{{Name: "__name__", Value: name}}
		hasJob := false
		for _, l := range ls {
			hasJob = hasJob || l.Name == "job"
		}
		if !hasJob {
			labels = append(labels, check.Label{Name: "job", Value: j.Name})
		}
		labels = append(labels, ls...)
		s := &series{s: check.Series{Labels: labels}}
		all = append(all, s)
		return s
	}

	var ok, serverErr, clientErr, count *series
	var buckets []*series
	if j.HTTP != nil {
		req, dur := j.HTTP.Requests, j.HTTP.Duration
		if req == "" {
			req = "http_requests_total"
		}
		if dur == "" {
			dur = "http_request_duration_seconds"
		}
		with := func(ls ...check.Label) []check.Label { return append(slices.Clone(j.HTTP.Labels), ls...) }
		ok = mk(req, with(check.Label{Name: "code", Value: "200"})...)
		if j.HTTP.ClientErrorRatio > 0 {
			clientErr = mk(req, with(check.Label{Name: "code", Value: "429"})...)
		} else {
			clientErr = &series{}
		}
		serverErr = mk(req, with(check.Label{Name: "code", Value: "500"})...)
		if j.HTTP.LatencyMedian != nil {
			for _, le := range j.HTTP.Buckets {
				buckets = append(buckets, mk(dur+"_bucket", with(check.Label{Name: "le", Value: strconv.FormatFloat(le, 'g', -1, 64)})...))
			}
			buckets = append(buckets, mk(dur+"_bucket", with(check.Label{Name: "le", Value: "+Inf"})...))
			count = mk(dur+"_count", with()...)
		}
	}
	counters := make([]*series, len(j.Counters))
	byName := map[string]int{}
	for i, c := range j.Counters {
		counters[i] = mk(c.Name, c.Labels...)
		byName[c.Name] = i
	}
	reqName := ""
	if j.HTTP != nil {
		reqName = j.HTTP.Requests
		if reqName == "" {
			reqName = "http_requests_total"
		}
	}
	for _, c := range j.Counters {
		if c.Of != "" && c.Of != reqName {
			if _, ok := byName[c.Of]; !ok {
				return nil, fmt.Errorf("counter %q: Of names unknown counter %q", c.Name, c.Of)
			}
		}
	}
	gauges := make([]*series, len(j.Gauges))
	for i, g := range j.Gauges {
		gauges[i] = mk(g.Name, g.Labels...)
	}

	restarts := append([]time.Time(nil), j.Restarts...)
	prev := cfg.Start.Add(j.Offset - j.Scrape)
	incs := make([]float64, len(j.Counters))
	for t := cfg.Start.Add(j.Offset); t.Before(cfg.End) || t.Equal(cfg.End); t = t.Add(j.Scrape) {
		// A restart zeroes every counter; what the new process counts until this scrape is the
		// share of the interval after the restart.
		frac := 1.0
		for len(restarts) > 0 && !restarts[0].After(t) {
			if restarts[0].After(prev) {
				frac = float64(t.Sub(restarts[0])) / float64(j.Scrape)
			}
			for _, s := range all {
				if isCounterName(s.s.Name()) {
					s.val = 0
				}
			}
			restarts = restarts[1:]
		}
		dt := t.Sub(prev).Seconds() * frac
		httpN := 0.0
		if j.HTTP != nil {
			hs := j.HTTP
			n := poisson(rng, hs.RPS(t)*dt)
			httpN = n
			e5 := binomial(rng, n, clamp01(hs.ErrorRatio(t)))
			e4 := binomial(rng, n-e5, clamp01(hs.ClientErrorRatio))
			ok.val += n - e5 - e4
			serverErr.val += e5
			clientErr.val += e4
			if count != nil {
				count.val += n
				drawBuckets(rng, hs, t, n, buckets)
			}
		}
		for i, c := range j.Counters {
			switch {
			case c.Of != "":
			case c.Noise > 0:
				incs[i] = math.Max(0, math.Round(c.Rate(t)*dt*(1+c.Noise*rng.NormFloat64())*1000)/1000)
			default:
				incs[i] = poisson(rng, c.Rate(t)*dt)
			}
		}
		for i, c := range j.Counters {
			if c.Of != "" {
				of := httpN
				if c.Of != reqName {
					of = incs[byName[c.Of]]
				}
				incs[i] = binomial(rng, of, clamp01(c.Ratio(t)))
			}
			// Rounded so that sums of milliunits print as milliunits, not 12.300000000000002.
			counters[i].val = math.Round((counters[i].val+incs[i])*1000) / 1000
		}
		for i, g := range j.Gauges {
			v := g.Value(t) + g.Noise*rng.NormFloat64()
			if g.Round > 0 {
				v = math.Round(v/g.Round) * g.Round
				// Keep the printed form short: 0.7000000000000001 → 0.7.
				v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'f', decimals(g.Round), 64), 64)
			}
			if g.Max > g.Min {
				v = math.Max(g.Min, math.Min(g.Max, v))
			}
			gauges[i].val = v
		}
		prev = t
		if inGap(j.Gaps, t) {
			continue
		}
		ms := t.UnixMilli()
		for _, s := range all {
			s.s.Samples = append(s.s.Samples, check.Sample{T: ms, V: s.val})
		}
	}
	out := make([]check.Series, len(all))
	for i, s := range all {
		out[i] = s.s
	}
	return out, nil
}

func isCounterName(name string) bool {
	for _, suf := range []string{"_total", "_bucket", "_count", "_sum"} {
		if len(name) > len(suf) && name[len(name)-len(suf):] == suf {
			return true
		}
	}
	return false
}

func inGap(gaps []Span, t time.Time) bool {
	for _, g := range gaps {
		if g.Contains(t) {
			return true
		}
	}
	return false
}

func decimals(round float64) int {
	d := 0
	for round < 1 && d < 12 {
		round *= 10
		d++
	}
	return d
}

func clamp01(p float64) float64 { return math.Max(0, math.Min(1, p)) }

func lognormalCDF(x, median, sigma float64) float64 {
	if x <= 0 || median <= 0 {
		return 0
	}
	return 0.5 * math.Erfc(-(math.Log(x)-math.Log(median))/(sigma*math.Sqrt2))
}

// poisson draws a Poisson variate: exactly (Knuth) for small means, by the normal approximation
// for large ones, where the difference is far below what any SLI can see.
func poisson(r *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	if mean < 30 {
		l := math.Exp(-mean)
		k := 0.0
		p := 1.0
		for {
			p *= r.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	return math.Max(0, math.Round(mean+math.Sqrt(mean)*r.NormFloat64()))
}

// binomial draws from Binomial(n, p): by Bernoulli trials for small n, by a Poisson draw when
// successes are rare, and by the normal approximation otherwise.
func binomial(r *rand.Rand, n, p float64) float64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if n < 50 {
		k := 0.0
		for i := 0.0; i < n; i++ {
			if r.Float64() < p {
				k++
			}
		}
		return k
	}
	mean := n * p
	if mean < 20 {
		return math.Min(n, poisson(r, mean))
	}
	if n*(1-p) < 20 {
		return n - math.Min(n, poisson(r, n*(1-p)))
	}
	return math.Max(0, math.Min(n, math.Round(mean+math.Sqrt(mean*(1-p))*r.NormFloat64())))
}

// drawBuckets adds one interval's n requests to the cumulative histogram buckets: a multinomial over
// the disjoint bucket ranges, drawn as a chain of binomials.
func drawBuckets(rng *rand.Rand, hs *HTTP, t time.Time, n float64, buckets []*series) {
	left := n
	leftP := 1.0
	med := hs.LatencyMedian(t)
	lastCDF := 0.0
	for i, le := range hs.Buckets {
		cdf := lognormalCDF(le, med, hs.LatencySigma)
		p := 0.0
		if leftP > 0 {
			p = clamp01((cdf - lastCDF) / leftP)
		}
		left -= binomial(rng, left, p)
		leftP -= cdf - lastCDF
		lastCDF = cdf
		buckets[i].val += n - left
	}
	buckets[len(buckets)-1].val += n
}
