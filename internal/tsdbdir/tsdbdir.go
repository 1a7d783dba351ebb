// Package tsdbdir opens the blocks of a Prometheus TSDB data directory, or of a snapshot of one
// (POST /api/v1/admin/tsdb/snapshot), read-only, as a storage.Queryable: the source of `slod check
// --data DIR`. Nothing is written into the directory.
//
// It reads the blocks with Prometheus's own index, chunk and tombstone readers (tsdb/index,
// tsdb/chunks, tsdb/tombstones) and not through the tsdb package: tsdb imports Prometheus's config
// and with it service discovery and the AWS, Azure, Google and Kubernetes client libraries, 290
// more packages to compile (a cold build of slod takes 75% more CPU) and about 40 more modules to
// fetch and vet, for a reader of blocks (docs/DESIGN.md §2a has the figures). What that leaves out
// is the write-ahead log: the newest two to three hours of a running Prometheus, which no block
// holds yet. A snapshot writes them as a block, so a snapshot is read whole; Open reports a WAL
// newer than the blocks (WALNewer) so that `slod check` can say what it did not read.
package tsdbdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/tsdb/tombstones"
)

// DB is the blocks of a TSDB directory, opened read-only. It implements storage.Queryable; its
// Queriers may be used concurrently.
type DB struct {
	dir        string
	blocks     []*block
	minT, maxT int64
	walNewer   time.Time
}

// block is one block directory: its meta.json, index, chunks and tombstones.
type block struct {
	dir    string
	meta   blockMeta
	index  *index.Reader
	chunks *chunks.Reader
	tomb   tombstones.Reader
}

// blockMeta is the part of a block's meta.json read here (tsdb.BlockMeta).
type blockMeta struct {
	ULID    string `json:"ulid"`
	MinTime int64  `json:"minTime"`
	MaxTime int64  `json:"maxTime"` // exclusive
	Version int    `json:"version"`
	Stats   struct {
		NumSamples uint64 `json:"numSamples"`
	} `json:"stats"`
	Compaction struct {
		Parents []struct {
			ULID string `json:"ulid"`
		} `json:"parents"`
	} `json:"compaction"`
}

// Open opens the blocks of dir. A directory without any block is not a TSDB (or holds nothing a
// backtest could read yet), and an error. Close releases the blocks' memory maps.
func Open(dir string) (_ *DB, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the TSDB directory: %w", err)
	}
	db := &DB{dir: dir, minT: math.MaxInt64, maxT: math.MinInt64}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	superseded := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() || !isULID(e.Name()) {
			continue // the wal, chunks_head, snapshots, a block being written (<ulid>.tmp-for-creation)
		}
		b, err := openBlock(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		db.blocks = append(db.blocks, b)
		for _, p := range b.meta.Compaction.Parents {
			superseded[p.ULID] = true
		}
	}
	// A compaction writes the new block before it deletes its parents: a crash in between leaves
	// both, and Prometheus then reads only the new one.
	db.blocks = slices.DeleteFunc(db.blocks, func(b *block) bool {
		if superseded[b.meta.ULID] {
			b.close()
			return true
		}
		return false
	})
	if len(db.blocks) == 0 {
		return nil, fmt.Errorf("%s holds no TSDB block (a directory named by a ULID with a meta.json): it is not a Prometheus data directory or snapshot, or its data is all still in the write-ahead log (take a snapshot: POST /api/v1/admin/tsdb/snapshot)", dir)
	}
	slices.SortFunc(db.blocks, func(a, b *block) int { return int(min(max(a.meta.MinTime-b.meta.MinTime, -1), 1)) })
	lastBlock := int64(math.MinInt64)
	for _, b := range db.blocks {
		if b.meta.Stats.NumSamples > 0 {
			db.minT, db.maxT = min(db.minT, b.meta.MinTime), max(db.maxT, b.meta.MaxTime-1)
		}
		lastBlock = max(lastBlock, b.meta.MaxTime)
	}
	db.walNewer = walNewerThan(filepath.Join(dir, "wal"), lastBlock)
	return db, nil
}

// isULID reports whether name is a ULID as Prometheus names blocks: 26 characters of Crockford's
// base32.
func isULID(name string) bool {
	if len(name) != 26 {
		return false
	}
	for _, c := range name {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U') {
			return false
		}
	}
	return true
}

func openBlock(dir string) (_ *block, err error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("reading block %s: %w", dir, err)
	}
	b := &block{dir: dir}
	if err := json.Unmarshal(data, &b.meta); err != nil {
		return nil, fmt.Errorf("reading block %s: meta.json: %w", dir, err)
	}
	if b.meta.Version != 1 {
		return nil, fmt.Errorf("reading block %s: meta.json version %d, not 1", dir, b.meta.Version)
	}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.index, err = index.NewFileReader(filepath.Join(dir, "index"), index.DecodePostingsRaw); err != nil {
		return nil, fmt.Errorf("reading block %s: index: %w", dir, err)
	}
	if b.chunks, err = chunks.NewDirReader(filepath.Join(dir, "chunks"), nil); err != nil {
		return nil, fmt.Errorf("reading block %s: chunks: %w", dir, err)
	}
	if b.tomb, _, err = tombstones.ReadTombstones(dir); err != nil {
		return nil, fmt.Errorf("reading block %s: tombstones: %w", dir, err)
	}
	return b, nil
}

func (b *block) close() error {
	var errs []error
	if b.index != nil {
		errs = append(errs, b.index.Close())
	}
	if b.chunks != nil {
		errs = append(errs, b.chunks.Close())
	}
	if b.tomb != nil {
		errs = append(errs, b.tomb.Close())
	}
	return errors.Join(errs...)
}

// walNewerThan is the time the newest segment of the WAL in dir was written, when that is after
// the end of the last block (ms): the WAL then holds samples no block has. Zero otherwise.
func walNewerThan(dir string, lastBlock int64) time.Time {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}
	}
	var newest time.Time
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || e.IsDir() || info.Size() == 0 {
			continue
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
	}
	if newest.UnixMilli() <= lastBlock {
		return time.Time{}
	}
	return newest.UTC()
}

// WALNewer is when the directory's write-ahead log was last written, if that is after the end of
// its last block: it holds samples (up to that time) that no block holds and this package does not
// read. Zero when there is no such WAL (a snapshot, or a copy of the blocks).
func (db *DB) WALNewer() time.Time { return db.walNewer }

// Querier returns a Querier over the blocks that overlap [mint, maxt], merged as Prometheus merges
// its blocks (a sample two blocks hold is read once).
func (db *DB) Querier(mint, maxt int64) (storage.Querier, error) {
	var qs []storage.Querier
	for _, b := range db.blocks {
		if b.meta.MaxTime <= mint || b.meta.MinTime > maxt {
			continue
		}
		qs = append(qs, &blockQuerier{b: b, mint: mint, maxt: maxt})
	}
	return storage.NewMergeQuerier(qs, nil, storage.ChainedSeriesMerge), nil
}

// Blocks is the number of blocks read.
func (db *DB) Blocks() int { return len(db.blocks) }

// Empty reports whether the blocks hold no sample at all.
func (db *DB) Empty() bool { return db.minT > db.maxT }

// MinTime is the time of the first sample (zero when Empty).
func (db *DB) MinTime() time.Time {
	if db.Empty() {
		return time.Time{}
	}
	return time.UnixMilli(db.minT).UTC()
}

// MaxTime is the time of the last sample (zero when Empty).
func (db *DB) MaxTime() time.Time {
	if db.Empty() {
		return time.Time{}
	}
	return time.UnixMilli(db.maxT).UTC()
}

// Close releases every block.
func (db *DB) Close() error {
	var errs []error
	for _, b := range db.blocks {
		errs = append(errs, b.close())
	}
	db.blocks = nil
	return errors.Join(errs...)
}
