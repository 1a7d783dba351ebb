package tsdbdir

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/tsdb/tombstones"
	"github.com/prometheus/prometheus/util/annotations"
)

// blockQuerier reads the series of one block in [mint, maxt]. The block's readers are shared by
// every querier: they read memory-mapped files and keep no state between calls.
type blockQuerier struct {
	b          *block
	mint, maxt int64
}

// Select returns the series matching ms, in label order (the order of the index's series ids).
func (q *blockQuerier) Select(ctx context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	p, err := postings(ctx, q.b.index, ms)
	if err != nil {
		return storage.ErrSeriesSet(fmt.Errorf("block %s: %w", q.b.meta.ULID, err))
	}
	return &seriesSet{q: q, p: p}
}

// postings are the ids of the series that every matcher matches. A matcher that matches the empty
// value (foo="", foo!="bar", foo=~".*") also matches the series without the label, so it removes
// the series whose value it does not match rather than selecting those it does.
func postings(ctx context.Context, ix *index.Reader, ms []*labels.Matcher) (index.Postings, error) {
	var sel, drop []index.Postings
	for _, m := range ms {
		switch {
		case m.Type == labels.MatchEqual && m.Value != "":
			p, err := ix.Postings(ctx, m.Name, m.Value)
			if err != nil {
				return nil, err
			}
			sel = append(sel, p)
		case m.Matches(""):
			drop = append(drop, ix.PostingsForLabelMatching(ctx, m.Name, func(v string) bool { return !m.Matches(v) }))
		default:
			sel = append(sel, ix.PostingsForLabelMatching(ctx, m.Name, m.Matches))
		}
	}
	if len(sel) == 0 {
		name, value := index.AllPostingsKey()
		all, err := ix.Postings(ctx, name, value)
		if err != nil {
			return nil, err
		}
		sel = append(sel, all)
	}
	p := index.Intersect(sel...)
	if len(drop) > 0 {
		p = index.Without(p, index.Merge(ctx, drop...))
	}
	return p, nil
}

// LabelValues are the values of name among the series matching ms.
func (q *blockQuerier) LabelValues(ctx context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	err := q.eachSeries(ctx, ms, func(lset labels.Labels) {
		if v := lset.Get(name); v != "" {
			seen[v] = true
		}
	})
	return slices.Sorted(maps.Keys(seen)), nil, err
}

// LabelNames are the label names of the series matching ms.
func (q *blockQuerier) LabelNames(ctx context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	err := q.eachSeries(ctx, ms, func(lset labels.Labels) {
		lset.Range(func(l labels.Label) { seen[l.Name] = true })
	})
	return slices.Sorted(maps.Keys(seen)), nil, err
}

func (q *blockQuerier) eachSeries(ctx context.Context, ms []*labels.Matcher, f func(labels.Labels)) error {
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}
	}
	ss := q.Select(ctx, false, nil, ms...)
	for ss.Next() {
		f(ss.At().Labels())
	}
	return ss.Err()
}

// Close releases nothing: the block's readers belong to the DB.
func (*blockQuerier) Close() error { return nil }

// seriesSet walks the postings, skipping series without a chunk in the querier's range.
type seriesSet struct {
	q       *blockQuerier
	p       index.Postings
	builder labels.ScratchBuilder
	cur     *blockSeries
	err     error
}

func (s *seriesSet) Next() bool {
	for s.err == nil && s.p.Next() {
		var chks []chunks.Meta
		if err := s.q.b.index.Series(s.p.At(), &s.builder, &chks); err != nil {
			s.err = fmt.Errorf("block %s: series %d: %w", s.q.b.meta.ULID, s.p.At(), err)
			return false
		}
		chks = slices.DeleteFunc(chks, func(c chunks.Meta) bool { return c.MaxTime < s.q.mint || c.MinTime > s.q.maxt })
		if len(chks) == 0 {
			continue
		}
		deleted, err := s.q.b.tomb.Get(s.p.At())
		if err != nil {
			s.err = fmt.Errorf("block %s: tombstones of series %d: %w", s.q.b.meta.ULID, s.p.At(), err)
			return false
		}
		s.cur = &blockSeries{lset: s.builder.Labels(), chks: chks, cr: s.q.b.chunks, deleted: deleted, mint: s.q.mint, maxt: s.q.maxt}
		return true
	}
	if s.err == nil {
		s.err = s.p.Err()
	}
	return false
}

func (s *seriesSet) At() storage.Series              { return s.cur }
func (s *seriesSet) Err() error                      { return s.err }
func (*seriesSet) Warnings() annotations.Annotations { return nil }

// blockSeries is one series of a block: its chunks overlapping the range, and the spans deleted
// from it (tombstones).
type blockSeries struct {
	lset       labels.Labels
	chks       []chunks.Meta
	cr         *chunks.Reader
	deleted    tombstones.Intervals
	mint, maxt int64
}

func (s *blockSeries) Labels() labels.Labels { return s.lset }

func (s *blockSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return &seriesIterator[int64]{s: s, i: -1, lastT: s.mint - 1}
}

// seriesIterator reads the series' chunks in turn, keeping the samples in [mint, maxt] that no
// tombstone deletes, each timestamp once.
//
// T is always int64: a type parameter only because go vet's stdmethods check takes any method
// Seek(int64) for a misspelt io.Seeker, and chunkenc.Iterator needs one (as in internal/recorded).
type seriesIterator[T ~int64] struct {
	s     *blockSeries
	i     int // the chunk being read
	cur   chunkenc.Iterator
	typ   chunkenc.ValueType
	lastT int64
	err   error
}

// open starts reading chunk i.
func (it *seriesIterator[T]) open(i int) bool {
	it.i = i
	c, _, err := it.s.cr.ChunkOrIterable(it.s.chks[i])
	if err == nil && c == nil {
		err = fmt.Errorf("no chunk at reference %d", it.s.chks[i].Ref)
	}
	if err != nil {
		it.err = fmt.Errorf("series %s: %w", it.s.lset, err)
		return false
	}
	it.cur = c.Iterator(it.cur)
	return true
}

// accept moves past the samples of the current chunk before lastT or deleted, and reports
// whether the one it stopped at is to be returned; typ is its type.
func (it *seriesIterator[T]) accept(typ chunkenc.ValueType) bool {
	for ; typ != chunkenc.ValNone; typ = it.cur.Next() {
		t := it.cur.AtT()
		if t > it.s.maxt {
			return false
		}
		if t > it.lastT && !isDeleted(t, it.s.deleted) {
			it.typ, it.lastT = typ, t
			return true
		}
	}
	return false
}

func isDeleted(t int64, ivs tombstones.Intervals) bool {
	for _, iv := range ivs {
		if iv.InBounds(t) {
			return true
		}
	}
	return false
}

func (it *seriesIterator[T]) Next() chunkenc.ValueType {
	for it.err == nil {
		if it.cur != nil && it.accept(it.cur.Next()) {
			return it.typ
		}
		if it.cur != nil {
			if err := it.cur.Err(); err != nil {
				it.err = err
				break
			}
			if it.lastT >= it.s.maxt {
				break
			}
		}
		if it.i+1 >= len(it.s.chks) || !it.open(it.i+1) {
			break
		}
	}
	it.typ = chunkenc.ValNone
	return chunkenc.ValNone
}

func (it *seriesIterator[T]) Seek(tt T) chunkenc.ValueType {
	t := int64(tt)
	if it.typ != chunkenc.ValNone && it.lastT >= t {
		return it.typ
	}
	if t > it.lastT+1 {
		it.lastT = t - 1
	}
	// Skip the chunks that end before t without decoding them.
	for it.err == nil && it.i+1 < len(it.s.chks) && it.s.chks[it.i+1].MaxTime < t {
		it.i++
		it.cur = nil
	}
	return it.Next()
}

func (it *seriesIterator[T]) At() (int64, float64) { return it.cur.At() }
func (it *seriesIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.cur.AtHistogram(h)
}
func (it *seriesIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.cur.AtFloatHistogram(fh)
}
func (it *seriesIterator[T]) AtT() int64  { return it.cur.AtT() }
func (it *seriesIterator[T]) AtST() int64 { return it.cur.AtST() }
func (it *seriesIterator[T]) Err() error  { return it.err }
