// Package store keeps slod's durable state in one bbolt file, <storage.path>/slod.db: every SLO's
// SLI history and alert state, the notification outbox and silences. An evaluation cycle is written
// with one call to Commit, in one bbolt transaction, so that an alert transition is never recorded
// without its notification (and vice versa) even if the process is killed mid-write.
//
// # Layout
//
// Four top-level buckets:
//
//	slos      SLO id                → SLO record (history, state, updated-at)
//	outbox    big-endian uint64 seq → outbox entry (seq from the bucket's NextSequence)
//	silences  silence id            → opaque bytes owned by the caller
//	meta      key                   → opaque bytes owned by the caller; keys starting with
//	                                  "store/" are reserved for the store itself:
//	                                  store/schema (big-endian uint32) and store/clean
//
// Big-endian sequence keys make bbolt's key order the delivery order, so Outbox is a plain
// cursor walk.
//
// # Record encoding
//
// SLO records and outbox entries use a small versioned binary envelope rather than JSON because
// a History is ~24 KiB of binary already (base64 in JSON would add a third to every cycle's
// writes). Every record starts with a version byte (currently 1); integers are varints
// (encoding/binary), byte strings and strings are a uvarint length followed by the bytes, and a
// time is a varint of Unix seconds followed by a uvarint of nanoseconds (the zero time.Time
// survives a round trip). Version 1:
//
//	SLO record:   0x01 | bytes History | bytes State | time UpdatedAt
//	outbox entry: 0x01 | str Receiver | str Key | bytes Payload | time Created |
//	              uvarint Attempts | time NextAttempt | str LastError
//
// A decoding error names the bucket and key. A record with an unknown version is refused rather
// than guessed at: it was written by a newer slod.
//
// # Crash safety
//
// Writes are synced (bbolt's default; NoSync is never set). The meta key store/clean is cleared when
// a store is opened for writing and set again by Close; when Open finds it cleared (the process
// died) it validates the whole file (every record decodes, bbolt's tx.Check passes) before using
// it. bbolt may panic or fault on a corrupted file; every access converts that into an error
// wrapping ErrCorrupt instead of crashing the daemon.
//
// # Backup and restore
//
// Backup streams bbolt's tx.WriteTo inside a read transaction, so it is consistent while cycles
// keep committing. A snapshot of a running store carries the cleared store/clean flag, so the first
// Open after restoring it validates it in full. Restore writes to a temporary file in the storage
// directory, verifies it (Verify) and renames it into place; it never replaces a store in use.
package store
