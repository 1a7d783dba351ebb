package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// recordVersion is the first byte of every SLO record and outbox entry. Bump it (and keep a
// decoder for the old one) when a field is added, so that an old file still reads.
const recordVersion = 1

// errTruncated is what a decoder reports when a record ends before its last field.
var errTruncated = errors.New("record is truncated")

// encoder appends fields to a byte slice in the envelope described in the package comment.
type encoder struct{ buf []byte }

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// time keeps seconds and nanoseconds apart because UnixNano overflows for the zero time.Time,
// which callers use for "never".
func (e *encoder) time(t time.Time) {
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// decoder reads fields back; the first error sticks, so a decode function can read every field
// and check err once at the end.
type decoder struct {
	buf []byte
	err error
	// alias makes bytes return sub-slices of buf instead of copies: for validation, which only
	// needs to know that a record decodes, so that checking 10,000 SLOs after a crash does not
	// copy a quarter of a gigabyte.
	alias bool
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("field %s: %w", field, err)
	}
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(field, errTruncated)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail(field, errTruncated)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// bytes returns a copy: the input aliases bbolt's memory map, which is only valid inside the
// transaction.
func (d *decoder) bytes(field string) []byte {
	n := d.uvarint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail(field, fmt.Errorf("length %d exceeds the %d bytes left: %w", n, len(d.buf), errTruncated))
		return nil
	}
	out := d.buf[:n:n]
	if !d.alias {
		out = bytes.Clone(out)
	}
	d.buf = d.buf[n:]
	return out
}

func (d *decoder) str(field string) string { return string(d.bytes(field)) }

func (d *decoder) int(field string) int {
	v := d.uvarint(field)
	if v > math.MaxInt32 {
		d.fail(field, fmt.Errorf("value %d out of range", v))
		return 0
	}
	return int(v)
}

func (d *decoder) time(field string) time.Time {
	sec := d.varint(field)
	nsec := d.uvarint(field)
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.fail(field, fmt.Errorf("nanoseconds %d out of range", nsec))
		return time.Time{}
	}
	if sec == zeroUnix && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// zeroUnix is time.Time{}.Unix(): the encoding of "no time".
var zeroUnix = time.Time{}.Unix()

func (d *decoder) version() {
	if len(d.buf) == 0 {
		d.fail("version", errTruncated)
		return
	}
	if v := d.buf[0]; v != recordVersion {
		d.fail("version", fmt.Errorf("unknown record version %d (written by a newer slod?)", v))
		return
	}
	d.buf = d.buf[1:]
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.buf) != 0 {
		d.err = fmt.Errorf("%d unexpected bytes after the last field", len(d.buf))
	}
	return d.err
}

func encodeSLO(r SLORecord) []byte {
	e := encoder{buf: make([]byte, 0, 1+2*binary.MaxVarintLen64+len(r.History)+len(r.State)+3*binary.MaxVarintLen64)}
	e.buf = append(e.buf, recordVersion)
	e.bytes(r.History)
	e.bytes(r.State)
	e.time(r.UpdatedAt)
	return e.buf
}

func decodeSLO(id string, b []byte) (SLORecord, error) { return decodeSLOWith(decoder{buf: b}, id) }

// checkSLO reports whether b decodes as an SLO record, without copying it.
func checkSLO(b []byte) error {
	_, err := decodeSLOWith(decoder{buf: b, alias: true}, "")
	return err
}

func decodeSLOWith(d decoder, id string) (SLORecord, error) {
	d.version()
	r := SLORecord{ID: id}
	r.History = d.bytes("history")
	r.State = d.bytes("state")
	r.UpdatedAt = d.time("updated_at")
	return r, d.finish()
}

func encodeOutbox(o OutboxEntry) []byte {
	e := encoder{buf: make([]byte, 0, 64+len(o.Receiver)+len(o.Key)+len(o.Payload)+len(o.LastError))}
	e.buf = append(e.buf, recordVersion)
	e.str(o.Receiver)
	e.str(o.Key)
	e.bytes(o.Payload)
	e.time(o.Created)
	e.uvarint(uint64(o.Attempts))
	e.time(o.NextAttempt)
	e.str(o.LastError)
	return e.buf
}

func decodeOutbox(seq uint64, b []byte) (OutboxEntry, error) {
	return decodeOutboxWith(decoder{buf: b}, seq)
}

// checkOutbox reports whether b decodes as an outbox entry, without copying it.
func checkOutbox(b []byte) error {
	_, err := decodeOutboxWith(decoder{buf: b, alias: true}, 0)
	return err
}

func decodeOutboxWith(d decoder, seq uint64) (OutboxEntry, error) {
	d.version()
	o := OutboxEntry{Seq: seq}
	o.Receiver = d.str("receiver")
	o.Key = d.str("key")
	o.Payload = d.bytes("payload")
	o.Created = d.time("created")
	o.Attempts = d.int("attempts")
	o.NextAttempt = d.time("next_attempt")
	o.LastError = d.str("last_error")
	return o, d.finish()
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func keySeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("key of %d bytes is not an 8-byte sequence number", len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}
