package notify

import (
	"bytes"
	"testing"
)

// FuzzUnmarshalPayload: whatever bytes the outbox holds, decoding never panics, and what decodes
// encodes back to a payload that decodes to the same thing.
func FuzzUnmarshalPayload(f *testing.F) {
	for _, a := range []Action{Trigger, Resolve} {
		b, err := sampleNotification(a).MarshalPayload()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"dedup_key":"k","action":"trigger","labels":null}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := UnmarshalPayload(b)
		if err != nil {
			return
		}
		b1, err := n.MarshalPayload()
		if err != nil {
			t.Fatal(err)
		}
		n2, err := UnmarshalPayload(b1)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b1, err)
		}
		b2, _ := n2.MarshalPayload()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("not stable:\n%s\n%s", b1, b2)
		}
	})
}

// FuzzDedupKey: keys are always ≤ 255 bytes, valid for PagerDuty, and distinct SLO names give
// distinct keys.
func FuzzDedupKey(f *testing.F) {
	f.Add("chat-api", "availability", "page", false)
	f.Add("s", string(bytes.Repeat([]byte("é"), 300)), "ticket", true)
	f.Fuzz(func(t *testing.T, service, name, sev string, noData bool) {
		k := DedupKey(service, name, sev, noData)
		if len(k) > maxDedupKey {
			t.Fatalf("key of %d bytes", len(k))
		}
		if k2 := DedupKey(service, name+"x", sev, noData); k2 == k {
			t.Fatalf("collision: %q", k)
		}
	})
}
