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
	"strings"
	"time"
	"unicode/utf8"

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

// maxSeriesBytes bounds the text of one series (its name and labels). Prometheus's own label
// encoding cannot hold 16 MiB (it panics), and no exporter's series comes near 1 MiB.
const maxSeriesBytes = 1 << 20

// maxQuote bounds the text of the file an error quotes: a malformed line may be megabytes long.
const maxQuote = 120

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
// timestamp, an out-of-order or duplicate timestamp, a series of more than 1 MiB, data after
// `# EOF` or a missing `# EOF` is an error of the form "name:line: message", which quotes at most
// a short excerpt of the file. A file whose first line does not parse is said not to be
// OpenMetrics, and one that ends in the middle of a line without `# EOF` to be truncated.
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
			if p.cut = l[len(l)-1] != '\n'; p.cut {
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
			return nil, p.noEOF(chunk, chunkStart, line)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: reading: %w", name, line+1, err)
		}
	}
}

// noEOF is the error of a file that ended after line last without `# EOF`, chunk holding its
// lines from start on. A last line without its newline is a file cut short (a copy or a download
// that stopped): that is the error, whatever its partial last line would parse to (a timestamp
// cut to 17000 would be a sample in 1970), unless it is the only line, which is what a file that
// is not OpenMetrics at all looks like.
func (p *omParser) noEOF(chunk []byte, start, last int) error {
	lines := bytes.SplitAfter(chunk, []byte("\n"))
	if n := len(chunk); n > 0 && last > 1 {
		// chunk always ends with a newline (Parse adds a missing one): the last line was cut
		// when it did not have one in the file. Find it and parse what comes before.
		tail := lines[len(lines)-2]
		if p.cut {
			if err := p.parseChunk(chunk[:n-len(tail)], start); err != nil {
				return err
			}
			return fmt.Errorf("%s:%d: the data ends in the middle of a line (%s) without # EOF: the file is truncated",
				p.name, last, quote(bytes.TrimSuffix(tail, []byte("\n"))))
		}
	}
	if err := p.parseChunk(chunk, start); err != nil {
		return err
	}
	return fmt.Errorf("%s:%d: data does not end with # EOF (is the file complete?)", p.name, last+1)
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
	// cut is set when the last line read had no newline: the end of a file.
	cut bool
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
			return p.syntaxError(line, text, err)
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
		if len(ser) > maxSeriesBytes {
			return fmt.Errorf("%s:%d: a series of %d bytes (%s): slod reads series of at most 1 MiB", p.name, line, len(ser), quote(ser))
		}
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

// syntaxError is the error of a line the OpenMetrics parser refused, which quotes a short excerpt
// of it (the parser's own message quotes all of it). The first line of the file is what tells
// OpenMetrics from something else (JSON, YAML, the Prometheus API's answer): there it says so.
func (p *omParser) syntaxError(line int, text []byte, err error) error {
	msg, parsed, found := strings.Cut(err.Error(), " while parsing: ")
	if line == 1 {
		return fmt.Errorf("%s:1: not OpenMetrics text with timestamps: the first line is %s (%s)", p.name, quote(text), shorten(msg))
	}
	if !found {
		return fmt.Errorf("%s:%d: %s", p.name, line, shorten(msg))
	}
	// What the parser read of the line before it stopped: its end says where.
	if s, err := strconv.Unquote(parsed); err == nil && len(s) > maxQuote {
		cut := len(s) - maxQuote
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		parsed = fmt.Sprintf("…%s (%d bytes)", strconv.Quote(s[cut:]), len(s))
	}
	return fmt.Errorf("%s:%d: %s while parsing: %s", p.name, line, shorten(msg), parsed)
}

// quote quotes b as Go does, at most maxQuote bytes of it followed by how many more there are.
func quote(b []byte) string {
	if len(b) <= maxQuote {
		return strconv.Quote(string(b))
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(string(b[:cut])), len(b))
}

// shorten cuts a message that quotes the file (a parser's "got ..." with a whole token) to a few
// times maxQuote.
func shorten(s string) string {
	if len(s) <= 4*maxQuote {
		return s
	}
	cut := 4 * maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
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
