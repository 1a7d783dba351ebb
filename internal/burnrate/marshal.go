package burnrate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// historyMagic and historyVersion open every encoded History. A new layout gets a new version;
// UnmarshalBinary refuses versions it does not know rather than guess. Version 1 had no counts of
// the steps with data; it is still read (its intervals' data is then inferred: Point).
const (
	historyMagic     = "SLDH"
	historyVersion   = 2
	historyVersionV1 = 1
)

// Flags of the encoded History.
const (
	flagHas     = 1 << 0
	flagHasData = 1 << 1
)

// MarshalBinary encodes the History compactly: a versioned header (step, maxWindow, the step
// indices of Start, End and LastData, the cumulative sums at End, the count of steps with data at
// End and where the counts start) followed, per tier, by the counts of the points that are held
// (oldest first, a byte each) and then, per tier, by those points as float64 pairs. A 30d History
// at a 1m step is about 25 KiB.
func (h *History) MarshalBinary() ([]byte, error) {
	if h.step <= 0 {
		return nil, errors.New("encoding history: history not created with NewHistory")
	}
	n := 0
	for k := range h.tiers {
		n += 17 * h.heldCount(k)
	}
	b := make([]byte, 0, 64+n)
	b = append(b, historyMagic...)
	b = append(b, historyVersion)
	b = binary.AppendVarint(b, int64(h.step))
	b = binary.AppendVarint(b, int64(h.maxWindow))
	var flags byte
	if h.has {
		flags |= flagHas
	}
	if h.hasData {
		flags |= flagHasData
	}
	b = append(b, flags)
	if h.has {
		b = binary.AppendVarint(b, h.start)
		b = binary.AppendVarint(b, h.end-h.start)
		b = appendCum(b, h.cur)
	}
	if h.hasData {
		b = binary.AppendVarint(b, h.lastData)
	}
	if !h.has {
		return b, nil
	}
	b = append(b, h.curN)
	b = binary.AppendVarint(b, h.countsFrom-h.start)
	for k := range h.tiers {
		first, cnt := h.held(k)
		t := &h.tiers[k]
		for j := 0; j < cnt; j++ {
			m := first + int64(j)*t.res
			b = append(b, t.cnt[floorMod(m/t.res, int64(len(t.cnt)))])
		}
	}
	for k := range h.tiers {
		first, cnt := h.held(k)
		t := &h.tiers[k]
		for j := 0; j < cnt; j++ {
			b = appendCum(b, h.point(k, first+int64(j)*t.res))
		}
	}
	return b, nil
}

// held returns the first boundary held in tier k after Start and how many are held up to End.
func (h *History) held(k int) (first int64, n int) {
	t := &h.tiers[k]
	hi := floorDiv(h.end, t.res) * t.res
	first = hi - int64(len(t.pts)-1)*t.res
	if min := (floorDiv(h.start, t.res) + 1) * t.res; first < min {
		first = min
	}
	if first > hi {
		return first, 0
	}
	return first, int((hi-first)/t.res) + 1
}

func (h *History) heldCount(k int) int {
	if !h.has {
		return 0
	}
	_, n := h.held(k)
	return n
}

func appendCum(b []byte, c cum) []byte {
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.bad))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(c.total))
}

// UnmarshalBinary replaces h with a History encoded by MarshalBinary. Corrupt or truncated input,
// an unknown version and trailing bytes are errors; h is left unchanged then.
func (h *History) UnmarshalBinary(data []byte) error {
	n, err := decodeHistory(data)
	if err != nil {
		return fmt.Errorf("decoding history: %w", err)
	}
	*h = *n
	return nil
}

type decoder struct {
	b       []byte
	err     error
	scratch [binary.MaxVarintLen64]byte
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(d.scratch[:0], v)) {
		// Overlong encodings are refused too, so that every History has exactly one encoding.
		d.fail("truncated or invalid %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated %s", what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) cum(what string) cum {
	if d.err != nil {
		return cum{}
	}
	if len(d.b) < 16 {
		d.fail("truncated %s", what)
		return cum{}
	}
	c := cum{
		math.Float64frombits(binary.LittleEndian.Uint64(d.b)),
		math.Float64frombits(binary.LittleEndian.Uint64(d.b[8:])),
	}
	d.b = d.b[16:]
	for _, v := range [...]float64{c.bad, c.total} {
		// A negative zero too: sums of counts >= 0 are never -0, and one read as 0 would
		// encode back to other bytes.
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || math.Signbit(v) {
			d.fail("%s: cumulative count %v is not a finite number >= 0", what, v)
		}
	}
	return c
}

func decodeHistory(data []byte) (*History, error) {
	if len(data) < len(historyMagic)+1 || string(data[:len(historyMagic)]) != historyMagic {
		return nil, errors.New("not an encoded history (bad magic)")
	}
	version := data[len(historyMagic)]
	if version != historyVersion && version != historyVersionV1 {
		return nil, fmt.Errorf("unsupported version %d (want %d)", version, historyVersion)
	}
	d := &decoder{b: data[len(historyMagic)+1:]}
	step := d.varint("step")
	maxWindow := d.varint("max window")
	if d.err != nil {
		return nil, d.err
	}
	if step <= 0 || maxWindow < step || ceilDiv(maxWindow, step) > maxHistorySteps {
		return nil, fmt.Errorf("invalid step %s or max window %s", time.Duration(step), time.Duration(maxWindow))
	}
	h := NewHistory(time.Duration(step), time.Duration(maxWindow))
	flags := d.byte("flags")
	if flags&^(flagHas|flagHasData) != 0 {
		d.fail("unknown flags %#x", flags)
	}
	if flags&flagHas != 0 {
		h.has = true
		h.start = d.varint("start")
		span := d.varint("length")
		if d.err == nil && (span <= 0 || span > math.MaxInt64/step || h.start > math.MaxInt64/step-span || h.start < math.MinInt64/step+1) {
			d.fail("invalid start %d or length %d", h.start, span)
		}
		h.end = h.start + span
		h.cur = d.cum("cumulative sums")
	}
	if flags&flagHasData != 0 {
		h.hasData = true
		h.lastData = d.varint("last data")
		if d.err == nil && ((h.has && h.lastData > h.end) || h.lastData < math.MinInt64/step+1 || h.lastData > math.MaxInt64/step-1) {
			d.fail("last data %d after end %d", h.lastData, h.end)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if h.has && version == historyVersionV1 {
		// No counts: what the History held is of unknown data, what comes is counted.
		h.countsFrom = h.end
	} else if h.has {
		decodeCounts(d, h)
	}
	if d.err != nil {
		return nil, d.err
	}
	if h.has {
		for k := range h.tiers {
			first, cnt := h.held(k)
			t := &h.tiers[k]
			prev := cum{}
			for j := 0; j < cnt; j++ {
				m := first + int64(j)*t.res
				c := d.cum(fmt.Sprintf("tier %d point %d", k, j))
				if d.err != nil {
					return nil, d.err
				}
				if c.bad < prev.bad || c.total < prev.total || c.bad > h.cur.bad || c.total > h.cur.total {
					return nil, fmt.Errorf("tier %d point %d: cumulative sums not increasing", k, j)
				}
				if m == h.end && c != h.cur {
					return nil, fmt.Errorf("tier %d point %d: differs from the sums at the end", k, j)
				}
				prev = c
				t.pts[floorMod(m/t.res, int64(len(t.pts)))] = c
			}
		}
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return h, nil
}

// decodeCounts reads the counts of steps with data (version 2): the count at End, where the
// counts start, and each held point's count, which may grow by at most the tier's resolution from
// one point to the next and must be the count at End at End.
func decodeCounts(d *decoder, h *History) {
	h.curN = d.byte("count of steps with data")
	from := d.varint("start of the counts")
	if d.err == nil && (from < 0 || from > h.end-h.start) {
		d.fail("start of the counts %d outside the history's %d steps", from, h.end-h.start)
	}
	h.countsFrom = h.start + from
	for k := range h.tiers {
		first, n := h.held(k)
		t := &h.tiers[k]
		var prev uint8
		for j := 0; j < n && d.err == nil; j++ {
			m := first + int64(j)*t.res
			c := d.byte(fmt.Sprintf("tier %d count %d", k, j))
			switch {
			case d.err != nil:
			case j > 0 && int64(c-prev) > t.res:
				d.fail("tier %d count %d: %d steps with data in %d steps", k, j, c-prev, t.res)
			case m == h.end && c != h.curN:
				d.fail("tier %d count %d: differs from the count at the end", k, j)
			}
			prev = c
			t.cnt[floorMod(m/t.res, int64(len(t.cnt)))] = c
		}
	}
}
