package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the name of the bbolt file inside the storage directory.
const FileName = "slod.db"

// SchemaVersion is the layout version this slod writes into meta store/schema. Open refuses a
// store with a newer version: an older slod would misread or silently drop what it does not know.
const SchemaVersion = 1

// Sentinel errors, for errors.Is. Each is wrapped in an error that names the store file.
var (
	// ErrLocked: another process (normally the running daemon) holds the store's file lock.
	ErrLocked = errors.New("in use by another process")
	// ErrCorrupt: the file is damaged (truncated, overwritten, failed bbolt's consistency check, or
	// holds a record that does not decode).
	ErrCorrupt = errors.New("corrupt")
	// ErrNewerSchema: the store was written by a newer slod.
	ErrNewerSchema = errors.New("newer than this slod supports")
	// ErrNotSlod: the file is a bbolt database but not a slod store.
	ErrNotSlod = errors.New("not a slod store")
	// ErrInvalid: a record handed to the store failed validation; nothing was written.
	ErrInvalid = errors.New("invalid record")
	// ErrNotFound: UpdateOutbox named an entry that does not exist (it was acked).
	ErrNotFound = errors.New("not found")
	// ErrExists: Restore would replace an existing store and RestoreOptions.Force is not set.
	ErrExists = errors.New("store already exists")
)

// lockTimeout bounds the wait for bbolt's file lock. bbolt waits forever by default; a second
// `slod run` or a `slod backup` against a live daemon must instead fail within a second with
// ErrLocked.
const lockTimeout = time.Second

// initialMmapSize: bbolt must remap when the file outgrows its mapping, and a remap waits for every
// open read transaction, so a backup streaming over a slow connection would stall the daemon's
// cycle. Mapping 1 GiB up front (address space only, on 64-bit) avoids that until the store is
// far larger than 10,000 SLOs × 24 KiB of history.
const initialMmapSize = 1 << 30

// reservedPrefix marks the meta keys the store keeps for itself.
const reservedPrefix = "store/"

var (
	bucketSLOs     = []byte("slos")
	bucketOutbox   = []byte("outbox")
	bucketSilences = []byte("silences")
	bucketMeta     = []byte("meta")
	allBuckets     = [][]byte{bucketSLOs, bucketOutbox, bucketSilences, bucketMeta}

	keySchema = []byte(reservedPrefix + "schema")
	keyClean  = []byte(reservedPrefix + "clean")
)

// SLORecord is what the store keeps per SLO: its burnrate.History (MarshalBinary) and its alert
// State (JSON), both opaque to the store.
type SLORecord struct {
	ID             string
	History, State []byte
	UpdatedAt      time.Time
}

// OutboxEntry is one notification waiting for delivery. Seq is assigned by Commit; the notifier
// updates Attempts, NextAttempt and LastError with UpdateOutbox and deletes the entry with Ack once
// the receiver accepted it.
type OutboxEntry struct {
	Seq           uint64
	Receiver, Key string
	Payload       []byte
	Created       time.Time
	Attempts      int
	NextAttempt   time.Time
	LastError     string
}

// Cycle is everything one evaluation cycle writes. Commit writes all of it or none of it.
type Cycle struct {
	SLOs []SLORecord
	// DeleteSLOs are the ids of SLO records to delete (a group retired), in the same transaction.
	DeleteSLOs []string
	Outbox     []OutboxEntry // Seq must be zero: the store assigns it
	Meta       map[string][]byte
	// DeleteMeta are meta keys to delete in the same transaction (after Meta is written).
	DeleteMeta []string
}

// Stats counts what a store holds; Restore and Verify return it and the commands print it.
type Stats struct {
	Bytes    int64 // file size
	Schema   int
	SLOs     int
	Outbox   int
	Silences int
}

// Store is an open slod.db. Its methods are safe for concurrent use (bbolt serialises writers and
// lets readers run alongside).
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it if needed, with a 0700 directory and a 0600 file) the store in dir for
// reading and writing. It fails within about a second with an error wrapping ErrLocked when
// another process has it open. A store that was not closed cleanly is validated in full first.
func Open(dir string) (*Store, error) { return open(dir, false) }

// OpenReadOnly opens an existing store without writing to it, sharing the file with other
// read-only openers; it fails with ErrLocked while a read-write opener (the daemon) holds it.
// `slod backup` uses it when the daemon is not running.
func OpenReadOnly(dir string) (*Store, error) { return open(dir, true) }

func open(dir string, readOnly bool) (*Store, error) {
	path := filepath.Join(dir, FileName)
	if !readOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating storage directory %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	case err != nil && readOnly:
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	exists := err == nil && fi.Size() > 0

	if exists || readOnly {
		// Look before opening for writing: bbolt's read-write open reads the freelist page, which
		// faults if the file was truncated, and a recovered fault leaves bbolt half-open. A
		// read-only open only touches the two checksummed meta pages.
		db, err := openBolt(path, true)
		if err != nil {
			return nil, err
		}
		_, err = checkStore(db, path, false, !readOnly)
		if readOnly {
			if err != nil {
				_ = db.Close()
				return nil, err
			}
			return &Store{db: db, path: path, readOnly: true}, nil
		}
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing store %s after checking it: %w", path, cerr)
		}
		if err != nil {
			return nil, err
		}
	}

	db, err := openBolt(path, false)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path}
	err = s.update("initialising", func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				return fmt.Errorf("it holds bucket %q but no meta bucket: %w", name, ErrNotSlod)
			}); err != nil {
				return err
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		meta = tx.Bucket(bucketMeta)
		if meta.Get(keySchema) == nil {
			if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
				return fmt.Errorf("writing schema version: %w", err)
			}
		}
		// Cleared while open: if the process dies, the next Open sees it and validates the file.
		return meta.Put(keyClean, []byte{0})
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file with bbolt and turns a lock timeout into ErrLocked.
func openBolt(path string, readOnly bool) (*bolt.DB, error) {
	opts := &bolt.Options{
		Timeout:  lockTimeout,
		ReadOnly: readOnly,
		// The hashmap freelist stays fast when each cycle frees thousands of overflow pages.
		FreelistType: bolt.FreelistMapType,
	}
	if !readOnly {
		opts.InitialMmapSize = initialMmapSize
	}
	if readOnly {
		// bbolt would try to initialise an empty file, which fails oddly on a read-only handle.
		if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
			return nil, fmt.Errorf("store %s is %w: the file is empty", path, ErrCorrupt)
		}
	}
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, opts)
		return err
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("store %s is %w (is slod running?)", path, ErrLocked)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch),
		errors.Is(err, ErrCorrupt), strings.Contains(err.Error(), "file size too small"):
		return nil, fmt.Errorf("store %s is %w: %w", path, ErrCorrupt, err)
	default:
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
}

// guard runs fn and turns a panic (bbolt panics on some corrupted pages) or a memory fault (a
// page pointer beyond the end of a truncated file) into an error wrapping ErrCorrupt, so that a
// damaged file is reported instead of crashing the daemon.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

func (s *Store) view(what string, fn func(*bolt.Tx) error) error {
	if err := guard(func() error { return s.db.View(fn) }); err != nil {
		return fmt.Errorf("%s store %s: %w", what, s.path, err)
	}
	return nil
}

func (s *Store) update(what string, fn func(*bolt.Tx) error) error {
	if err := guard(func() error { return s.db.Update(fn) }); err != nil {
		return fmt.Errorf("%s store %s: %w", what, s.path, err)
	}
	return nil
}

// checkStore checks a bbolt file opened read-only: not truncated, a slod store of a schema this
// slod reads, and — when full is set or it was not closed cleanly — every record decodes and
// bbolt's consistency check passes. A fresh file (no buckets yet: the process died right after
// creating it) passes only with allowFresh, for Open to initialise.
func checkStore(db *bolt.DB, path string, full, allowFresh bool) (Stats, error) {
	var st Stats
	err := guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			fi, err := os.Stat(path)
			if err != nil {
				return err
			}
			if fi.Size() < tx.Size() {
				return fmt.Errorf("%w: the file is %d bytes but its pages need %d (truncated?)", ErrCorrupt, fi.Size(), tx.Size())
			}
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				empty := true
				_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
				if empty && allowFresh {
					return nil
				}
				return fmt.Errorf("no meta bucket: %w", ErrNotSlod)
			}
			schema := meta.Get(keySchema)
			if len(schema) != 4 {
				return fmt.Errorf("meta %s is missing or malformed: %w", keySchema, ErrNotSlod)
			}
			st.Schema = int(binary.BigEndian.Uint32(schema))
			if st.Schema > SchemaVersion {
				return fmt.Errorf("schema version %d is %w (%d); upgrade slod or restore a backup this version wrote",
					st.Schema, ErrNewerSchema, SchemaVersion)
			}
			for _, name := range allBuckets {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %s is missing: %w", name, ErrCorrupt)
				}
			}
			if !full && bytes.Equal(meta.Get(keyClean), []byte{1}) {
				return nil
			}
			if err := validate(tx, &st); err != nil {
				return err
			}
			st.Bytes = fi.Size()
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("checking store %s: %w", path, err)
	}
	return st, nil
}

// validate (the buckets exist) decodes every record (naming the bucket and key of the first that fails), counts them
// into st, and runs bbolt's own consistency check.
func validate(tx *bolt.Tx, st *Stats) error {
	err := tx.Bucket(bucketSLOs).ForEach(func(k, v []byte) error {
		if err := checkSLO(v); err != nil {
			return fmt.Errorf("%w: decoding bucket slos key %q: %w", ErrCorrupt, k, err)
		}
		st.SLOs++
		return nil
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
		_, err := keySeq(k)
		if err == nil {
			err = checkOutbox(v)
		}
		if err != nil {
			return fmt.Errorf("%w: decoding bucket outbox key %x: %w", ErrCorrupt, k, err)
		}
		st.Outbox++
		return nil
	})
	if err != nil {
		return err
	}
	// Silences and meta are opaque, but reading them touches their pages, so a fault there shows
	// up here (under guard) rather than inside tx.Check's own goroutine, where it cannot be caught.
	for _, name := range [][]byte{bucketSilences, bucketMeta} {
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			_ = crc32.ChecksumIEEE(v) // reads every byte of the value
			if bytes.Equal(name, bucketSilences) {
				st.Silences++
			}
			return nil
		})
	}
	var problems []error
	for err := range tx.Check() {
		if len(problems) < 5 {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: bbolt consistency check: %w", ErrCorrupt, errors.Join(problems...))
	}
	return nil
}

// Path is the store's file, <dir>/slod.db.
func (s *Store) Path() string { return s.path }

// Size is the size of the store file in bytes (slod_store_size_bytes), or 0 if it cannot be
// read.
func (s *Store) Size() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Close marks the store as cleanly closed (so the next Open skips the full validation) and
// releases the file. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var err error
		if !s.readOnly {
			err = s.update("marking clean shutdown of", func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyClean, []byte{1})
			})
		}
		if cerr := s.db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing store %s: %w", s.path, cerr)
		}
		s.closeErr = err
	})
	return s.closeErr
}

func validSLO(r SLORecord) error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: empty SLO id", ErrInvalid)
	case len(r.ID) > bolt.MaxKeySize:
		return fmt.Errorf("%w: SLO id of %d bytes exceeds %d", ErrInvalid, len(r.ID), bolt.MaxKeySize)
	}
	return nil
}

func validEntry(e OutboxEntry) error {
	switch {
	case e.Receiver == "":
		return fmt.Errorf("%w: outbox entry without a receiver", ErrInvalid)
	case e.Key == "":
		return fmt.Errorf("%w: outbox entry without a dedup key", ErrInvalid)
	case e.Attempts < 0:
		return fmt.Errorf("%w: outbox entry with %d attempts", ErrInvalid, e.Attempts)
	}
	return nil
}

func validMetaKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("%w: empty meta key", ErrInvalid)
	case strings.HasPrefix(k, reservedPrefix):
		return fmt.Errorf("%w: meta key %q is reserved for the store", ErrInvalid, k)
	case len(k) > bolt.MaxKeySize:
		return fmt.Errorf("%w: meta key of %d bytes exceeds %d", ErrInvalid, len(k), bolt.MaxKeySize)
	}
	return nil
}

// Commit writes one evaluation cycle — SLO records (replacing those with the same ID), new outbox
// entries and meta values — in one synced bbolt transaction, and returns the sequence numbers it
// gave the outbox entries, in order. On any error (an invalid record included) nothing is written.
func (s *Store) Commit(c Cycle) ([]uint64, error) {
	var seqs []uint64
	err := s.update("committing a cycle to", func(tx *bolt.Tx) error {
		seqs = make([]uint64, 0, len(c.Outbox))
		slos := tx.Bucket(bucketSLOs)
		for i, r := range c.SLOs {
			if err := validSLO(r); err != nil {
				return fmt.Errorf("SLO record %d: %w", i, err)
			}
			if err := slos.Put([]byte(r.ID), encodeSLO(r)); err != nil {
				return fmt.Errorf("writing SLO %s: %w", r.ID, err)
			}
		}
		for _, id := range c.DeleteSLOs {
			if err := slos.Delete([]byte(id)); err != nil {
				return fmt.Errorf("deleting SLO %s: %w", id, err)
			}
		}
		outbox := tx.Bucket(bucketOutbox)
		for i, e := range c.Outbox {
			if e.Seq != 0 {
				return fmt.Errorf("outbox entry %d: %w: Seq %d set by the caller (the store assigns it)", i, ErrInvalid, e.Seq)
			}
			if err := validEntry(e); err != nil {
				return fmt.Errorf("outbox entry %d (%s): %w", i, e.Key, err)
			}
			seq, err := outbox.NextSequence()
			if err != nil {
				return fmt.Errorf("assigning an outbox sequence number: %w", err)
			}
			if err := outbox.Put(seqKey(seq), encodeOutbox(e)); err != nil {
				return fmt.Errorf("writing outbox entry %d: %w", seq, err)
			}
			seqs = append(seqs, seq)
		}
		keys := make([]string, 0, len(c.Meta))
		for k := range c.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same invalid key fails first every time
		meta := tx.Bucket(bucketMeta)
		for _, k := range keys {
			if err := validMetaKey(k); err != nil {
				return err
			}
			if err := meta.Put([]byte(k), c.Meta[k]); err != nil {
				return fmt.Errorf("writing meta %s: %w", k, err)
			}
		}
		for _, k := range c.DeleteMeta {
			if err := validMetaKey(k); err != nil {
				return err
			}
			if err := meta.Delete([]byte(k)); err != nil {
				return fmt.Errorf("deleting meta %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return seqs, nil
}

// SLOs returns every SLO record by ID.
func (s *Store) SLOs() (map[string]SLORecord, error) {
	out := map[string]SLORecord{}
	err := s.view("reading SLOs from", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSLOs).ForEach(func(k, v []byte) error {
			r, err := decodeSLO(string(k), v)
			if err != nil {
				return fmt.Errorf("%w: decoding bucket slos key %q: %w", ErrCorrupt, k, err)
			}
			out[r.ID] = r
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSLO removes an SLO's record (the SLO left the rules). Deleting an absent SLO is not an
// error.
func (s *Store) DeleteSLO(id string) error {
	return s.update("deleting SLO "+id+" from", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSLOs).Delete([]byte(id))
	})
}

// Outbox returns every pending outbox entry in ascending Seq, which is the order they were
// committed in.
func (s *Store) Outbox() ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view("reading the outbox of", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			seq, err := keySeq(k)
			if err == nil {
				var e OutboxEntry
				e, err = decodeOutbox(seq, v)
				out = append(out, e)
			}
			if err != nil {
				return fmt.Errorf("%w: decoding bucket outbox key %x: %w", ErrCorrupt, k, err)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Ack deletes an outbox entry once its receiver accepted it. Acking an absent entry is not an
// error, so that an ack repeated after a failure cannot wedge the notifier.
func (s *Store) Ack(seq uint64) error {
	return s.update(fmt.Sprintf("acking outbox entry %d in", seq), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).Delete(seqKey(seq))
	})
}

// UpdateOutbox rewrites an existing entry (attempts, next attempt, last error), keyed by e.Seq.
// It fails with ErrNotFound if the entry was acked meanwhile: writing it back would resurrect a
// delivered notification and page twice.
func (s *Store) UpdateOutbox(e OutboxEntry) error {
	if err := validEntry(e); err != nil {
		return fmt.Errorf("updating outbox entry %d: %w", e.Seq, err)
	}
	return s.update(fmt.Sprintf("updating outbox entry %d in", e.Seq), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		k := seqKey(e.Seq)
		if b.Get(k) == nil {
			return fmt.Errorf("outbox entry %d: %w", e.Seq, ErrNotFound)
		}
		return b.Put(k, encodeOutbox(e))
	})
}

// Meta returns the value of a meta key, or nil if it is not set.
func (s *Store) Meta(key string) ([]byte, error) {
	var out []byte
	err := s.view("reading meta "+key+" from", func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(key)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// MetaPrefix returns every meta key starting with prefix, with its value.
func (s *Store) MetaPrefix(prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.view("reading meta "+prefix+"* from", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			out[string(k)] = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// PutMeta sets a meta key outside a cycle. Keys starting with "store/" are reserved.
func (s *Store) PutMeta(key string, v []byte) error {
	if err := validMetaKey(key); err != nil {
		return fmt.Errorf("writing meta: %w", err)
	}
	return s.update("writing meta "+key+" to", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), v)
	})
}

// PutSilence stores a silence (its encoding belongs to the caller) under its ID.
func (s *Store) PutSilence(id string, v []byte) error {
	if id == "" {
		return fmt.Errorf("writing silence: %w: empty silence id", ErrInvalid)
	}
	return s.update("writing silence "+id+" to", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSilences).Put([]byte(id), v)
	})
}

// DeleteSilence removes a silence; deleting an absent one is not an error.
func (s *Store) DeleteSilence(id string) error {
	return s.update("deleting silence "+id+" from", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSilences).Delete([]byte(id))
	})
}

// Silences returns every silence by ID.
func (s *Store) Silences() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.view("reading silences from", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSilences).ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats counts the records in the store (without decoding them) and reports the file size.
func (s *Store) Stats() (Stats, error) {
	st := Stats{Bytes: s.Size()}
	err := s.view("counting records in", func(tx *bolt.Tx) error {
		st.SLOs = tx.Bucket(bucketSLOs).Stats().KeyN
		st.Outbox = tx.Bucket(bucketOutbox).Stats().KeyN
		st.Silences = tx.Bucket(bucketSilences).Stats().KeyN
		if v := tx.Bucket(bucketMeta).Get(keySchema); len(v) == 4 {
			st.Schema = int(binary.BigEndian.Uint32(v))
		}
		return nil
	})
	return st, err
}
