// Package recorded holds recorded series in memory and evaluates PromQL over them with Prometheus's
// own engine: the sample source of `slod check` and `slod test` (DESIGN §8). Data comes from
// OpenMetrics text with timestamps (what `promtool tsdb dump-openmetrics` writes) or from Add.
package recorded

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// DB is an in-memory set of float series. It implements storage.Queryable, so the PromQL engine
// can run over it. Samples are stored Gorilla-compressed in Prometheus's own XOR chunks (about 1–2
// bytes per sample for scraped counters, against 16 for raw int64+float64 pairs), in chunks of at
// most chunkSamples so that a query reads only the chunks of its time range; every label set is
// stored once. Queries may run concurrently; Add must not run concurrently with them.
type DB struct {
	mu     sync.RWMutex
	series []*memSeries
	// byHash interns label sets: series indexes by labels hash (a slice for hash collisions).
	byHash map[uint64][]int
	// byName indexes series by metric name, the matcher nearly every selector has.
	byName     map[string][]int
	minT, maxT int64
	samples    int
}

// chunkSamples bounds a chunk. Smaller chunks let a query skip more data outside its range;
// larger ones cost fewer iterators per series. A Select re-encodes at most the two chunks at the
// edges of its range. 7 days of 30 s samples are 20 chunks.
const chunkSamples = 1024

type memSeries struct {
	lset   labels.Labels
	chunks []memChunk
	app    chunkenc.Appender // appends to the last chunk
}

type memChunk struct {
	chunk      *chunkenc.XORChunk
	minT, maxT int64
}

// lastT is the time of the series' last sample; ok is false for a series without samples.
func (s *memSeries) lastT() (t int64, ok bool) {
	if len(s.chunks) == 0 {
		return 0, false
	}
	return s.chunks[len(s.chunks)-1].maxT, true
}

// NewDB returns an empty DB.
func NewDB() *DB {
	return &DB{byHash: map[uint64][]int{}, byName: map[string][]int{}, minT: math.MaxInt64, maxT: math.MinInt64}
}

// Add appends samples to the series lset: ts in milliseconds, strictly ascending and after any
// sample the series already holds; vs may hold staleness markers (value.StaleNaN).
func (db *DB) Add(lset labels.Labels, ts []int64, vs []float64) error {
	if len(ts) != len(vs) {
		return fmt.Errorf("series %s: %d timestamps but %d values", lset, len(ts), len(vs))
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return fmt.Errorf("series %s: timestamps must be strictly ascending, %d follows %d", lset, ts[i], ts[i-1])
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	s := db.getOrCreate(lset)
	if last, ok := s.lastT(); ok && len(ts) > 0 && ts[0] <= last {
		return fmt.Errorf("series %s: sample at %d is not after the last one held at %d", lset, ts[0], last)
	}
	for i := range ts {
		if err := db.appendSample(s, ts[i], vs[i]); err != nil {
			return fmt.Errorf("series %s: %w", lset, err)
		}
	}
	return nil
}

// getOrCreate returns the series of lset, creating it if needed. db.mu must be held for writing.
func (db *DB) getOrCreate(lset labels.Labels) *memSeries {
	h := lset.Hash()
	for _, i := range db.byHash[h] {
		if labels.Equal(db.series[i].lset, lset) {
			return db.series[i]
		}
	}
	i := len(db.series)
	s := &memSeries{lset: lset.Copy()}
	db.series = append(db.series, s)
	db.byHash[h] = append(db.byHash[h], i)
	name := lset.Get(labels.MetricName)
	db.byName[name] = append(db.byName[name], i)
	return s
}

// appendSample appends a sample the caller has checked to be after the series' last one.
// db.mu must be held for writing.
func (db *DB) appendSample(s *memSeries, t int64, v float64) error {
	n := len(s.chunks)
	if n == 0 || s.chunks[n-1].chunk.NumSamples() >= chunkSamples {
		if n > 0 {
			s.chunks[n-1].chunk.Compact()
		}
		c := chunkenc.NewXORChunk()
		app, err := c.Appender()
		if err != nil {
			return fmt.Errorf("starting a chunk: %w", err)
		}
		s.chunks = append(s.chunks, memChunk{chunk: c, minT: t})
		s.app = app
		n++
	}
	s.app.Append(0, t, v)
	s.chunks[n-1].maxT = t
	db.samples++
	db.minT = min(db.minT, t)
	db.maxT = max(db.maxT, t)
	return nil
}

// MinTime is the time of the earliest sample (the zero time when the DB is empty).
func (db *DB) MinTime() time.Time {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.samples == 0 {
		return time.Time{}
	}
	return time.UnixMilli(db.minT).UTC()
}

// MaxTime is the time of the latest sample (the zero time when the DB is empty).
func (db *DB) MaxTime() time.Time {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.samples == 0 {
		return time.Time{}
	}
	return time.UnixMilli(db.maxT).UTC()
}

// Samples is the number of samples held.
func (db *DB) Samples() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.samples
}

// Series is the number of series held.
func (db *DB) Series() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.series)
}

// Querier implements storage.Queryable.
func (db *DB) Querier(mint, maxt int64) (storage.Querier, error) {
	return &dbQuerier{db: db, mint: mint, maxt: maxt}, nil
}

type dbQuerier struct {
	db         *DB
	mint, maxt int64
}

// matching returns the series matching every matcher, in insertion order. db.mu must be held.
func (q *dbQuerier) matching(ms []*labels.Matcher) []*memSeries {
	for _, m := range ms {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			var out []*memSeries
			for _, i := range q.db.byName[m.Value] {
				if matches(q.db.series[i].lset, ms) {
					out = append(out, q.db.series[i])
				}
			}
			return out
		}
	}
	var out []*memSeries
	for _, s := range q.db.series {
		if matches(s.lset, ms) {
			out = append(out, s)
		}
	}
	return out
}

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Select returns the series matching every matcher that have samples in [mint, maxt] (the hints'
// range when given, else the querier's), with only those samples, sorted by labels when asked.
func (q *dbQuerier) Select(_ context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	q.db.mu.RLock()
	defer q.db.mu.RUnlock()
	var out []storage.Series
	for _, s := range q.matching(ms) {
		var cs []chunkenc.Chunk
		for _, c := range s.chunks {
			switch {
			case c.maxT < mint || c.minT > maxt:
			case c.minT >= mint && c.maxT <= maxt:
				cs = append(cs, c.chunk)
			default:
				tc, err := trim(c.chunk, mint, maxt)
				if err != nil {
					return storage.ErrSeriesSet(fmt.Errorf("selecting %s: %w", s.lset, err))
				}
				if tc.NumSamples() > 0 {
					cs = append(cs, tc)
				}
			}
		}
		if len(cs) > 0 {
			out = append(out, &series{lset: s.lset, chunks: cs})
		}
	}
	if sortSeries {
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &seriesSet{series: out, i: -1}
}

// trim re-encodes the samples of c inside [mint, maxt]. Only the one or two chunks at the edges of
// a query's range need it, so a Select costs at most two chunks' worth of re-encoding.
func trim(c *chunkenc.XORChunk, mint, maxt int64) (*chunkenc.XORChunk, error) {
	out := chunkenc.NewXORChunk()
	app, err := out.Appender()
	if err != nil {
		return nil, err
	}
	it := c.Iterator(nil)
	for it.Next() == chunkenc.ValFloat {
		t, v := it.At()
		if t > maxt {
			break
		}
		if t >= mint {
			app.Append(0, t, v)
		}
	}
	return out, it.Err()
}

// LabelValues returns the sorted distinct values of name among the series matching ms.
func (q *dbQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.db.mu.RLock()
	defer q.db.mu.RUnlock()
	var out []string
	for _, s := range q.matching(ms) {
		if v := s.lset.Get(name); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil, nil
}

// LabelNames returns the sorted distinct label names of the series matching ms.
func (q *dbQuerier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.db.mu.RLock()
	defer q.db.mu.RUnlock()
	var out []string
	for _, s := range q.matching(ms) {
		s.lset.Range(func(l labels.Label) { out = append(out, l.Name) })
	}
	slices.Sort(out)
	return slices.Compact(out), nil, nil
}

func (*dbQuerier) Close() error { return nil }

type seriesSet struct {
	series []storage.Series
	i      int
}

func (s *seriesSet) Next() bool                      { s.i++; return s.i < len(s.series) }
func (s *seriesSet) At() storage.Series              { return s.series[s.i] }
func (*seriesSet) Err() error                        { return nil }
func (*seriesSet) Warnings() annotations.Annotations { return nil }

type series struct {
	lset   labels.Labels
	chunks []chunkenc.Chunk
}

func (s *series) Labels() labels.Labels { return s.lset }

// Iterator chains the chunks' own iterators; they never overlap, so the chain only ever moves on
// to the next chunk.
func (s *series) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if len(s.chunks) == 1 {
		return s.chunks[0].Iterator(it)
	}
	its := make([]chunkenc.Iterator, len(s.chunks))
	for i, c := range s.chunks {
		its[i] = c.Iterator(nil)
	}
	return storage.ChainSampleIteratorFromIterators(it, its)
}
