package tsdbdir_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/fidelity"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/tsdbdir"
)

var start = time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)

// backfill writes a day of two jobs (a scrape gap and a restart in one) as OpenMetrics, parses it,
// and backfills it with promtool into a TSDB directory (2h blocks): the same samples both ways.
func backfill(t *testing.T) (*recorded.DB, string) {
	t.Helper()
	fidelity.Binary(t, "promtool")
	cfg := examplegen.Config{Start: start, End: start.Add(24 * time.Hour), Seed: 5, Jobs: []examplegen.Job{
		{Name: "api", Scrape: 15 * time.Second, Offset: 3 * time.Second,
			Gaps:     []examplegen.Span{{Start: start.Add(5 * time.Hour), End: start.Add(5*time.Hour + 20*time.Minute)}},
			Restarts: []time.Time{start.Add(9 * time.Hour)},
			HTTP: &examplegen.HTTP{RPS: examplegen.Const(4), ErrorRatio: examplegen.Const(0.01),
				LatencyMedian: examplegen.Const(0.2), LatencySigma: 0.5, Buckets: []float64{0.25, 1}}},
		{Name: "worker", Scrape: time.Minute, Gauges: []examplegen.Gauge{{Name: "queue_depth", Value: examplegen.Const(7), Noise: 2, Round: 1}}},
	}}
	series, err := examplegen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var om bytes.Buffer
	if err := check.WriteOpenMetrics(&om, series); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "data.om")
	if err := os.WriteFile(file, om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := recorded.Parse(bytes.NewReader(om.Bytes()), file)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "tsdb")
	fidelity.Backfill(t, file, data)
	return db, data
}

// samples reads every series matching ms in [mint, maxt] as "labels" → "t=v ..." text.
func samples(t *testing.T, q storage.Queryable, mint, maxt int64, ms ...*labels.Matcher) map[string]string {
	t.Helper()
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	out := map[string]string{}
	ss := qr.Select(context.Background(), true, nil, ms...)
	var it chunkenc.Iterator
	for ss.Next() {
		var b strings.Builder
		it = ss.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			if ts < mint || ts > maxt {
				continue
			}
			b.WriteString(time.UnixMilli(ts).UTC().Format("15:04:05 "))
			b.WriteString(check.FormatNumber(v, 6))
			b.WriteByte(' ')
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[ss.At().Labels().String()] = b.String()
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSamplesAsRecorded: the blocks promtool wrote from a recording hold, read through this package,
// exactly the samples of the recording, for every kind of matcher and for ranges that cut blocks and
// chunks; PromQL over both gives the same answers.
func TestSamplesAsRecorded(t *testing.T) {
	want, dir := backfill(t)
	db, err := tsdbdir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Blocks() < 2 || !db.MinTime().Equal(want.MinTime()) || !db.MaxTime().Equal(want.MaxTime()) || !db.WALNewer().IsZero() {
		t.Fatalf("%d blocks from %s to %s (WAL %s), want several from %s to %s", db.Blocks(), db.MinTime(), db.MaxTime(), db.WALNewer(), want.MinTime(), want.MaxTime())
	}
	ms := func(s ...string) []*labels.Matcher {
		var out []*labels.Matcher
		for i := 0; i < len(s); i += 3 {
			typ := map[string]labels.MatchType{"=": labels.MatchEqual, "!=": labels.MatchNotEqual, "=~": labels.MatchRegexp, "!~": labels.MatchNotRegexp}[s[i+1]]
			out = append(out, labels.MustNewMatcher(typ, s[i], s[i+2]))
		}
		return out
	}
	ranges := [][2]time.Time{
		{want.MinTime(), want.MaxTime()},
		{start.Add(3*time.Hour + 17*time.Minute), start.Add(7*time.Hour + 3*time.Second)}, // cuts blocks and chunks
		{start.Add(5 * time.Hour), start.Add(5*time.Hour + 10*time.Minute)},               // inside the scrape gap
	}
	cases := map[string][]*labels.Matcher{
		"name":            ms("__name__", "=", "http_requests_total"),
		"name and code":   ms("__name__", "=", "http_requests_total", "code", "=", "500"),
		"not equal":       ms("__name__", "=", "http_requests_total", "code", "!=", "500"),
		"regexp":          ms("__name__", "=~", "http_.*", "le", "=~", "0.25|1"),
		"absent label":    ms("job", "=", "worker", "code", "=", ""),
		"not regexp":      ms("__name__", "=~", ".+", "job", "!~", "api"),
		"matches nothing": ms("__name__", "=", "nope"),
	}
	for name, m := range cases {
		for _, r := range ranges {
			mint, maxt := r[0].UnixMilli(), r[1].UnixMilli()
			got, exp := samples(t, db, mint, maxt, m...), samples(t, want, mint, maxt, m...)
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("%s in [%s, %s]: %d series read, want %d\n got  %.300v\n want %.300v", name, r[0], r[1], len(got), len(exp), got, exp)
			}
		}
	}
	// The subquery form a backtest runs: Seek on every step, over block boundaries.
	q := `irate(last_over_time(http_requests_total{job="api"}[10m])[90s:1m]) and count_over_time(http_requests_total{job="api"}[1m])`
	from, to := start.Add(time.Hour), start.Add(23*time.Hour)
	got, err := recorded.NewQueryableQuerier(db).QueryRange(context.Background(), q, from, to, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := recorded.NewQueryableQuerier(want).QueryRange(context.Background(), q, from, to, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) == 0 || !reflect.DeepEqual(got, exp) {
		t.Errorf("PromQL over the TSDB gives %d series, over the recording %d, or they differ", len(got), len(exp))
	}
}

// TestSupersededAndOverlappingBlocks: a block that a compacted one lists as its parent is not read
// (a crash between writing the new block and deleting its parents leaves both), and a sample that
// two overlapping blocks hold is read once.
func TestSupersededAndOverlappingBlocks(t *testing.T) {
	want, dir := backfill(t)
	var blocks []string // in time order: promtool names them by ULIDs of their creation
	metas := map[string]map[string]any{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e.Name()) == 26 {
			blocks = append(blocks, e.Name())
			metas[e.Name()] = readMeta(t, filepath.Join(dir, e.Name()))
		}
	}
	slices.SortFunc(blocks, func(a, b string) int {
		return cmp.Compare(metas[a]["minTime"].(float64), metas[b]["minTime"].(float64))
	})
	a, b := blocks[0], blocks[1]
	// A copy of block a that names b as its parent: b is superseded, and a's samples are there
	// twice.
	copyBlock(t, filepath.Join(dir, a), filepath.Join(dir, "01KZZZZZZZZZZZZZZZZZZZZZZ1"), b)
	db, err := tsdbdir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
	span := func(block string) (int64, int64) {
		return int64(metas[block]["minTime"].(float64)), int64(metas[block]["maxTime"].(float64)) - 1
	}
	amin, amax := span(a)
	if got, exp := samples(t, db, amin, amax, m), samples(t, want, amin, amax, m); len(exp) == 0 || !reflect.DeepEqual(got, exp) {
		t.Errorf("a block held twice: %d series read, want the %d of the recording, each sample once", len(got), len(exp))
	}
	bmin, bmax := span(b)
	if got := samples(t, db, bmin, bmax, m); len(got) != 0 {
		t.Errorf("the superseded block was read: %d series", len(got))
	}
}

func readMeta(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	return meta
}

func copyBlock(t *testing.T, from, to, parent string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	meta := readMeta(t, to)
	meta["ulid"] = filepath.Base(to)
	if parent != "" {
		meta["compaction"] = map[string]any{"level": 2, "sources": []string{parent}, "parents": []map[string]any{{"ulid": parent, "minTime": meta["minTime"], "maxTime": meta["maxTime"]}}}
	}
	data, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "meta.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.Mkdir(filepath.Join(empty, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ dir, want string }{
		"missing":  {filepath.Join(empty, "nope"), "no such file"},
		"no block": {empty, "holds no TSDB block"},
	} {
		_, err := tsdbdir.Open(c.dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}
	broken := t.TempDir()
	block := filepath.Join(broken, "01KAAAAAAAAAAAAAAAAAAAAAAA")
	if err := os.MkdirAll(block, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(block, "meta.json"), []byte(`{"ulid": "01KAAAAAAAAAAAAAAAAAAAAAAA", "version": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tsdbdir.Open(broken); err == nil || !strings.Contains(err.Error(), "index") || !strings.Contains(err.Error(), block) {
		t.Errorf("a block without an index: error %v, want one naming the block and its index", err)
	}
}

// TestWALNewer: a write-ahead log written after the last block ends holds samples no block has,
// and is reported; an empty segment (a Prometheus that has not appended yet) or one older than the
// blocks is not.
func TestWALNewer(t *testing.T) {
	_, dir := backfill(t)
	wal := filepath.Join(dir, "wal")
	if err := os.Mkdir(wal, 0o755); err != nil {
		t.Fatal(err)
	}
	open := func() time.Time {
		t.Helper()
		db, err := tsdbdir.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return db.WALNewer()
	}
	seg := filepath.Join(wal, "00000000")
	if err := os.WriteFile(seg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := open(); !got.IsZero() {
		t.Errorf("an empty segment is reported as a WAL written at %s", got)
	}
	if err := os.WriteFile(seg, []byte("records"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := start.Add(12 * time.Hour) // inside the blocks' span
	if err := os.Chtimes(seg, old, old); err != nil {
		t.Fatal(err)
	}
	if got := open(); !got.IsZero() {
		t.Errorf("a segment older than the last block is reported as newer, at %s", got)
	}
	recent := start.Add(30 * time.Hour)
	if err := os.Chtimes(seg, recent, recent); err != nil {
		t.Fatal(err)
	}
	if got := open(); !got.Equal(recent) {
		t.Errorf("a segment written at %s after the blocks is reported at %s", recent, got)
	}
}
