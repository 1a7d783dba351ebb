// Package recorded holds recorded series in memory and evaluates PromQL over them with Prometheus's
// own engine: the sample source of `slod check` and `slod test` (DESIGN §8). Data comes from
// OpenMetrics text with timestamps (what `promtool tsdb dump-openmetrics` writes) or from Add.
package recorded

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
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

// chunkSamples bounds a chunk. Smaller chunks let a query skip more data outside its range (a
// series iterator decodes only the chunks that overlap it); larger ones cost fewer chunk switches.
// 7 days of 30 s samples are 20 chunks.
const chunkSamples = 1024

type memSeries struct {
	lset   labels.Labels
	chunks []memChunk
	app    chunkenc.Appender // appends to the last chunk
	// stale is set by a staleness marker, unclean by any sample that is not a finite number >= 0 (a
	// NaN, a staleness marker, an infinity, a negative value); maxV is the largest sample value
	// otherwise. They tell which cheaper form of sli.SimplifySubquery queries over the series may take.
	stale, unclean bool
	maxV           float64
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
	if v >= 0 && v <= math.MaxFloat64 { // false for NaN (and so staleness markers)
		s.maxV = max(s.maxV, v)
	} else {
		s.unclean = true
		s.stale = s.stale || value.IsStaleNaN(v)
	}
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
func (db *DB) matching(ms []*labels.Matcher) []*memSeries {
	for _, m := range ms {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			var out []*memSeries
			for _, i := range db.byName[m.Value] {
				if matches(db.series[i].lset, ms) {
					out = append(out, db.series[i])
				}
			}
			return out
		}
	}
	var out []*memSeries
	for _, s := range db.series {
		if matches(s.lset, ms) {
			out = append(out, s)
		}
	}
	return out
}

// clean reports on the series matching ms what sli.SimplifySubquery needs to know: plain when none
// holds a staleness marker, unfiltered when besides every value is a finite number >= 0 and the
// largest times scale is finite.
func (db *DB) clean(ms []*labels.Matcher, scale float64) (plain, unfiltered bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	unfiltered = true
	for _, s := range db.matching(ms) {
		if s.stale {
			return false, false
		}
		if s.unclean || !(s.maxV*scale <= math.MaxFloat64) {
			unfiltered = false
		}
	}
	return true, unfiltered
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
// A series shares the chunks it reads with the DB (nothing is copied or re-encoded); its iterator
// skips what lies outside the range.
func (q *dbQuerier) Select(_ context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	q.db.mu.RLock()
	defer q.db.mu.RUnlock()
	var out []storage.Series
	for _, s := range q.db.matching(ms) {
		cs := overlapping(s.chunks, mint, maxt)
		if len(cs) == 0 {
			continue
		}
		// Every chunk holds a sample at its minT and its maxT, so the range holds a sample unless
		// it lies strictly inside one chunk (between two of its samples, perhaps).
		if len(cs) == 1 && cs[0].minT < mint && cs[0].maxT > maxt {
			it := cs[0].chunk.Iterator(nil)
			if it.Seek(mint) != chunkenc.ValFloat || it.AtT() > maxt {
				if err := it.Err(); err != nil {
					return storage.ErrSeriesSet(fmt.Errorf("selecting %s: %w", s.lset, err))
				}
				continue
			}
		}
		out = append(out, &series{lset: s.lset, chunks: cs, mint: mint, maxt: maxt})
	}
	if sortSeries {
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &seriesSet{series: out, i: -1}
}

// overlapping is the run of chunks (ascending, not overlapping) that hold samples in the time
// range [mint, maxt] by their bounds, found by binary search.
func overlapping(chunks []memChunk, mint, maxt int64) []memChunk {
	lo, _ := slices.BinarySearchFunc(chunks, mint, func(c memChunk, t int64) int { return cmp.Compare(c.maxT, t) })
	hi, found := slices.BinarySearchFunc(chunks, maxt, func(c memChunk, t int64) int { return cmp.Compare(c.minT, t) })
	if found {
		hi++
	}
	if hi <= lo {
		return nil
	}
	return chunks[lo:hi:hi]
}

// LabelValues returns the sorted distinct values of name among the series matching ms.
func (q *dbQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.db.mu.RLock()
	defer q.db.mu.RUnlock()
	var out []string
	for _, s := range q.db.matching(ms) {
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
	for _, s := range q.db.matching(ms) {
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

// series is a selected series: the chunks that overlap [mint, maxt], of which its iterator yields
// only the samples inside that range.
type series struct {
	lset       labels.Labels
	chunks     []memChunk
	mint, maxt int64
}

func (s *series) Labels() labels.Labels { return s.lset }

// Iterator returns a seriesIterator over s, reusing it if it is one.
func (s *series) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	si, ok := it.(*seriesIterator[int64])
	if !ok {
		si = &seriesIterator[int64]{}
	}
	si.reset(s)
	return si
}

// seriesIterator reads the samples of a series in [mint, maxt] chunk after chunk. The chunks do not
// overlap, so it only ever moves on to the next one, and Seek passes over whole chunks that end
// before the time sought without decoding them.
//
// T is always int64, the type of timestamps: it is a type parameter only because go vet's stdmethods
// check takes any method Seek(int64) for a misspelt io.Seeker, and chunkenc.Iterator needs one.
type seriesIterator[T ~int64] struct {
	chunks     []memChunk
	mint, maxt int64
	i          int               // the chunk cur reads; -1 before the first Next or Seek
	cur        chunkenc.Iterator // reused from chunk to chunk and series to series
	inside     bool              // chunk i lies inside [mint, maxt]: no sample needs checking
	valid      bool              // cur is at a sample in [mint, maxt]
	done       bool
	err        error
}

func (it *seriesIterator[T]) reset(s *series) {
	it.chunks, it.mint, it.maxt = s.chunks, s.mint, s.maxt
	it.i, it.valid, it.done, it.err = -1, false, len(s.chunks) == 0, nil
}

// open starts reading chunk i.
func (it *seriesIterator[T]) open(i int) {
	it.i = i
	c := &it.chunks[i]
	it.cur = c.chunk.Iterator(it.cur)
	it.inside = c.minT >= it.mint && c.maxT <= it.maxt
}

func (it *seriesIterator[T]) end() chunkenc.ValueType {
	it.valid, it.done = false, true
	return chunkenc.ValNone
}

func (it *seriesIterator[T]) fail(err error) chunkenc.ValueType {
	it.err = err
	return it.end()
}

// Next moves to the next sample in [mint, maxt].
func (it *seriesIterator[T]) Next() chunkenc.ValueType {
	if it.done {
		return chunkenc.ValNone
	}
	if it.i < 0 {
		it.open(0)
	}
	for {
		if it.inside {
			if it.cur.Next() != chunkenc.ValNone {
				it.valid = true
				return chunkenc.ValFloat
			}
		} else if it.cur.Next() != chunkenc.ValNone {
			t := it.cur.AtT()
			if t < it.mint {
				continue
			}
			if t > it.maxt {
				return it.end()
			}
			it.valid = true
			return chunkenc.ValFloat
		}
		// Chunk i is read to its end.
		if err := it.cur.Err(); err != nil {
			return it.fail(err)
		}
		if it.i+1 >= len(it.chunks) {
			return it.end()
		}
		it.open(it.i + 1)
	}
}

// Seek moves to the first sample in [mint, maxt] at or after t; it stays where the current sample
// already is.
func (it *seriesIterator[T]) Seek(t T) chunkenc.ValueType {
	if it.done {
		return chunkenc.ValNone
	}
	if it.valid && it.cur.AtT() >= int64(t) {
		return chunkenc.ValFloat
	}
	tt := max(int64(t), it.mint)
	j := max(it.i, 0)
	for j < len(it.chunks)-1 && it.chunks[j].maxT < tt {
		j++
	}
	if j != it.i {
		it.open(j)
	}
	if it.cur.Seek(tt) == chunkenc.ValNone {
		if err := it.cur.Err(); err != nil {
			return it.fail(err)
		}
		return it.end() // only the last chunk can end before t
	}
	if it.cur.AtT() > it.maxt {
		return it.end()
	}
	it.valid = true
	return chunkenc.ValFloat
}

func (it *seriesIterator[T]) At() (int64, float64) { return it.cur.At() }
func (it *seriesIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.cur.AtHistogram(h)
}
func (it *seriesIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.cur.AtFloatHistogram(fh)
}
func (it *seriesIterator[T]) AtT() int64 { return it.cur.AtT() }
func (*seriesIterator[T]) AtST() int64   { return 0 }
func (it *seriesIterator[T]) Err() error { return it.err }
