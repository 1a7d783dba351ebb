package recorded

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// chunkSize is how much text is handed to the OpenMetrics parser at once. Parsing in chunks keeps
// memory bounded by the samples, not by the file (a week of 100 SLOs is ~400 MB of text).
const chunkSize = 1 << 20

// eofLine ends every chunk handed to textparse, which insists on it; the real `# EOF` of the file is
// checked by Parse itself.
var eofLine = []byte("# EOF\n")

// ParseFile reads an OpenMetrics file with Parse, naming errors after path.
func ParseFile(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading recorded data: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads OpenMetrics text with timestamps, as `promtool tsdb dump-openmetrics` writes it:
// one sample per line with a timestamp in (fractional) seconds, TYPE/HELP/UNIT lines optional,
// `# EOF` last. Series may be interleaved, but the samples of each series must be in strictly
// increasing time order. Nothing is skipped silently: a malformed line, a sample without a
// timestamp, an out-of-order or duplicate timestamp, data after `# EOF` or a missing `# EOF` is an
// error of the form "name:line: message".
func Parse(r io.Reader, name string) (*DB, error) {
	p := &omParser{db: NewDB(), name: name, byText: map[string]*memSeries{}, st: labels.NewSymbolTable()}
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		chunk      []byte
		chunkStart = 1 // line number of the chunk's first line
		line       = 0 // lines read so far
	)
	for {
		l, err := readLine(br)
		if len(l) > 0 {
			line++
			if isEOFLine(l) {
				if err := p.parseChunk(chunk, chunkStart); err != nil {
					return nil, err
				}
				if rest, _ := br.Peek(1); len(rest) > 0 {
					return nil, fmt.Errorf("%s:%d: unexpected data after # EOF", name, line+1)
				}
				return p.db, nil
			}
			chunk = append(chunk, l...)
			if l[len(l)-1] != '\n' {
				chunk = append(chunk, '\n')
			}
			if len(chunk) >= chunkSize {
				if err := p.parseChunk(chunk, chunkStart); err != nil {
					return nil, err
				}
				chunk, chunkStart = chunk[:0], line+1
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: reading: %w", name, line+1, err)
		}
	}
	if err := p.parseChunk(chunk, chunkStart); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%s:%d: data does not end with # EOF", name, line+1)
}

// readLine returns the next line including its newline, however long it is.
func readLine(br *bufio.Reader) ([]byte, error) {
	l, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return l, err
	}
	long := append([]byte(nil), l...)
	for errors.Is(err, bufio.ErrBufferFull) {
		l, err = br.ReadSlice('\n')
		long = append(long, l...)
	}
	return long, err
}

func isEOFLine(l []byte) bool {
	return bytes.Equal(l, eofLine) || bytes.Equal(l, eofLine[:len(eofLine)-1])
}

type omParser struct {
	db   *DB
	name string
	st   *labels.SymbolTable
	// byText finds a series by its text as written, skipping label parsing for every sample but the
	// first of a series; different spellings of one label set still meet in db.getOrCreate.
	byText map[string]*memSeries
	lset   labels.Labels
	// typeLine is the last `# TYPE` line seen. textparse normalises the le and quantile labels of
	// histograms and summaries by the last TYPE it saw, so every chunk after the first starts with
	// it to parse exactly as the whole file would.
	typeLine []byte
	mtype    model.MetricType
}

// parseChunk parses whole lines, the first of which is line start of the file. Every entry the
// OpenMetrics parser returns is exactly one line, which is how errors get their line numbers.
func (p *omParser) parseChunk(chunk []byte, start int) error {
	if len(chunk) == 0 {
		return nil
	}
	buf := append(append(append([]byte(nil), p.typeLine...), chunk...), eofLine...)
	tp := textparse.NewOpenMetricsParser(buf, p.st)
	line, pos := start, 0
	if p.typeLine != nil {
		if _, err := tp.Next(); err != nil {
			return fmt.Errorf("%s:%d: replaying %q: %w", p.name, start, p.typeLine, err)
		}
		pos = len(p.typeLine)
	}
	p.db.mu.Lock()
	defer p.db.mu.Unlock()
	for ; ; line++ {
		text := currentLine(buf, pos)
		pos += len(text) + 1
		entry, err := tp.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", p.name, line, err)
		}
		switch entry {
		case textparse.EntrySeries:
		case textparse.EntryType:
			p.typeLine = append(append(p.typeLine[:0], text...), '\n')
			if _, mtype := tp.Type(); mtype != p.mtype {
				// The same series text may now parse to other labels (le normalisation).
				clear(p.byText)
				p.mtype = mtype
			}
			continue
		case textparse.EntryHelp, textparse.EntryUnit, textparse.EntryComment:
			continue // metadata: the engine does not need it
		default:
			return fmt.Errorf("%s:%d: unsupported entry (only float samples are supported)", p.name, line)
		}
		ser, tsp, v := tp.Series()
		if tsp == nil {
			return fmt.Errorf("%s:%d: sample without a timestamp (recorded data needs one on every sample)", p.name, line)
		}
		t := exactMillis(text, ser, *tsp)
		s, ok := p.byText[string(ser)]
		if !ok {
			tp.Labels(&p.lset)
			s = p.db.getOrCreate(p.lset)
			p.byText[string(ser)] = s
		}
		if last, ok := s.lastT(); ok {
			switch {
			case t == last:
				return fmt.Errorf("%s:%d: duplicate sample for %s at %s", p.name, line, s.lset, fmtMillis(t))
			case t < last:
				return fmt.Errorf("%s:%d: sample for %s at %s is older than the previous one at %s (samples of a series must be in time order)",
					p.name, line, s.lset, fmtMillis(t), fmtMillis(last))
			}
		}
		if err := p.db.appendSample(s, t, v); err != nil {
			return fmt.Errorf("%s:%d: %w", p.name, line, err)
		}
	}
}

// currentLine returns the line of buf starting at pos, without its newline.
func currentLine(buf []byte, pos int) []byte {
	if pos >= len(buf) {
		return nil
	}
	if i := bytes.IndexByte(buf[pos:], '\n'); i >= 0 {
		return buf[pos : pos+i]
	}
	return buf[pos:]
}

// exactMillis re-reads the timestamp of a sample line and rounds it to the millisecond. textparse
// truncates seconds×1000, which turns 1700000000.001 into …000 on some inputs; the line is
// `series value timestamp [# exemplar]`. It falls back to textparse's value when the line does not
// have that shape.
func exactMillis(line, series []byte, parsed int64) int64 {
	if !bytes.HasPrefix(line, series) {
		return parsed
	}
	rest := line[len(series):]
	_, rest = field(rest) // the value
	ts, _ := field(rest)
	if ms, ok := decimalMillis(ts); ok {
		return ms
	}
	sec, err := strconv.ParseFloat(string(ts), 64)
	if err != nil || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return parsed
	}
	return int64(math.Round(sec * 1000))
}

// field returns the first space-separated field of b and what follows it.
func field(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], b[j:]
}

// decimalMillis converts seconds written as plain decimals with at most three fractional digits
// (what promtool writes: %.3f) to milliseconds exactly, without going through a float.
func decimalMillis(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var ms int64
	frac := -1 // digits after the point, -1 before it
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if frac >= 3 {
				return 0, false
			}
			ms = ms*10 + int64(c-'0')
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	for frac = max(frac, 0); frac < 3; frac++ {
		ms *= 10
	}
	if neg {
		ms = -ms
	}
	return ms, true
}

func fmtMillis(t int64) string {
	return time.UnixMilli(t).UTC().Format("2006-01-02T15:04:05.000Z") + " (" + strconv.FormatFloat(float64(t)/1000, 'f', 3, 64) + ")"
}
