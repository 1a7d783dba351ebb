package store

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOutboxEncodingRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    OutboxEntry
	}{
		{"minimal", OutboxEntry{Seq: 1, Receiver: "r", Key: "k"}},
		{"everything", OutboxEntry{Seq: 1 << 40, Receiver: "oncall", Key: "slod/chat-api/availability/page/no_data",
			Payload: []byte(`{"event_action":"resolve"}`), Created: t0, Attempts: 17,
			NextAttempt: t0.Add(90 * time.Second), LastError: "pagerduty: 429 Too Many Requests"}},
		{"time before 1970", OutboxEntry{Seq: 2, Receiver: "r", Key: "k", Created: time.Date(1969, 7, 20, 20, 17, 40, 5, time.UTC)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeOutbox(tc.e.Seq, encodeOutbox(tc.e))
			if err != nil {
				t.Fatal(err)
			}
			// Payload nil and empty are the same thing on disk.
			if len(tc.e.Payload) == 0 && len(got.Payload) == 0 {
				got.Payload = tc.e.Payload
			}
			if !reflect.DeepEqual(got, tc.e) {
				t.Errorf("round trip = %+v, want %+v", got, tc.e)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	rec := encodeSLO(SLORecord{ID: "a/b", History: []byte("history"), State: []byte("state"), UpdatedAt: t0})
	ent := encodeOutbox(OutboxEntry{Receiver: "r", Key: "k", Payload: []byte("p"), Created: t0})
	tests := []struct {
		name    string
		decode  func() error
		wantErr string
	}{
		{"empty SLO record", func() error { _, err := decodeSLO("a/b", nil); return err }, "field version: record is truncated"},
		{"SLO record from a newer slod", func() error {
			b := bytes.Clone(rec)
			b[0] = 9
			_, err := decodeSLO("a/b", b)
			return err
		}, "unknown record version 9"},
		{"SLO record cut in the history", func() error { _, err := decodeSLO("a/b", rec[:5]); return err }, "field history: length 7 exceeds"},
		{"SLO record with trailing bytes", func() error { _, err := decodeSLO("a/b", append(bytes.Clone(rec), 0)); return err }, "1 unexpected bytes"},
		{"outbox entry cut in the middle", func() error { _, err := decodeOutbox(1, ent[:len(ent)-3]); return err }, "record is truncated"},
		{"outbox entry with huge attempts", func() error {
			e := encoder{buf: []byte{recordVersion}}
			e.str("r")
			e.str("k")
			e.bytes(nil)
			e.time(time.Time{})
			e.uvarint(1 << 40)
			_, err := decodeOutbox(1, e.buf)
			return err
		}, "field attempts: value 1099511627776 out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestUndecodableRecordNamesBucketAndKey plants a bad record; with the clean flag set a read
// reports it, without it (after a crash) Open does.
func TestUndecodableRecordNamesBucketAndKey(t *testing.T) {
	tests := []struct {
		name    string
		bucket  []byte
		key     []byte
		clean   bool
		wantErr string
	}{
		{"SLO record, read", bucketSLOs, []byte("chat-api/availability"), true, `decoding bucket slos key "chat-api/availability"`},
		{"SLO record, open after crash", bucketSLOs, []byte("chat-api/availability"), false, `decoding bucket slos key "chat-api/availability"`},
		{"outbox entry, read", bucketOutbox, seqKey(42), true, "decoding bucket outbox key 000000000000002a"},
		{"outbox key of the wrong size, open after crash", bucketOutbox, []byte("x"), false, "decoding bucket outbox key 78: key of 1 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.update("planting", func(tx *bolt.Tx) error {
				return tx.Bucket(tc.bucket).Put(tc.key, []byte{recordVersion, 0xff})
			}); err != nil {
				t.Fatal(err)
			}
			if tc.clean {
				err = s.Close()
			} else {
				err = s.db.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			err = openAndReadAll(dir)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrCorrupt naming %q", err, tc.wantErr)
			}
			// After a crash the check runs in Open itself, before anything else can read.
			if !tc.clean {
				if _, err := Open(dir); err == nil {
					t.Error("Open of a crashed store with a bad record succeeded")
				}
			}
		})
	}
}

func TestCleanFlag(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("store/clean"); !bytes.Equal(v, []byte{0}) {
		t.Errorf("store/clean while open = %v, want [0]", v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, _ := ro.Meta("store/clean"); !bytes.Equal(v, []byte{1}) {
		t.Errorf("store/clean after Close = %v, want [1]", v)
	}
}

// FuzzDecode feeds arbitrary bytes to the record decoders: they must return an error or a
// record that encodes back to the same bytes, never panic.
func FuzzDecode(f *testing.F) {
	f.Add(encodeSLO(SLORecord{ID: "a/b", History: []byte("h"), State: []byte("{}"), UpdatedAt: t0}))
	f.Add(encodeOutbox(OutboxEntry{Receiver: "r", Key: "k", Payload: []byte("p"), Created: t0, Attempts: 3, LastError: "e"}))
	f.Add([]byte{recordVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeSLO("x", b); err == nil {
			if again := encodeSLO(r); !bytes.Equal(again, b) && canonical(b) {
				t.Errorf("SLO record %x decoded to %+v, which encodes to %x", b, r, again)
			}
		}
		if e, err := decodeOutbox(1, b); err == nil {
			if again := encodeOutbox(e); !bytes.Equal(again, b) && canonical(b) {
				t.Errorf("outbox entry %x decoded to %+v, which encodes to %x", b, e, again)
			}
		}
	})
}

// canonical reports whether b could have come from the encoder: varints in their shortest form.
// Non-minimal varints decode fine but encode shorter, which is not an error.
func canonical(b []byte) bool {
	for i := 1; i < len(b); i++ {
		if b[i] == 0x80 || (b[i] == 0x00 && b[i-1]&0x80 != 0) {
			return false
		}
	}
	return true
}
