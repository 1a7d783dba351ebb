package recorded

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// dump lists every sample of db as "labels t v" lines, series in label order.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	ss := q.Select(t.Context(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var b strings.Builder
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			fmt.Fprintf(&b, "%s %d %g\n", s.Labels(), ts, v)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestParseValid(t *testing.T) {
	cases := []struct {
		file       string
		want       string
		samples    int
		minT, maxT int64
	}{
		{"valid_typed.om", `{__name__="http_requests_total", code="200", job="api"} 1700000000000 10
{__name__="http_requests_total", code="200", job="api"} 1700000060500 20
{__name__="http_requests_total", code="500", job="api"} 1700000000000 1
{__name__="http_requests_total", code="500", job="api"} 1700000120000 3
{__name__="latency_seconds_bucket", le="+Inf"} 1700000000001 7
{__name__="latency_seconds_bucket", le="0.3"} 1700000000001 5
{__name__="latency_seconds_count"} 1700000000001 7
{__name__="latency_seconds_sum"} 1700000000001 1.5
{__name__="temperature_celsius", room="a"} 1700000000000 -15
{__name__="temperature_celsius", room="a"} 1700000060000 NaN
`, 10, 1700000000000, 1700000120000},
		// Two spellings of one label set are one series.
		{"valid_bare.om", `{__name__="process_cpu_seconds_total"} 1700000000000 12.5
{__name__="process_cpu_seconds_total"} 1700000030000 13
{__name__="up", instance="a:1", job="api"} 1700000000000 1
{__name__="up", instance="a:1", job="api"} 1700000015000 0
{__name__="up", instance="b:1", job="api"} 1700000000000 1
`, 5, 1700000000000, 1700000030000},
		{"empty.om", "", 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			db, err := ParseFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(t, db); got != c.want {
				t.Errorf("samples\n got:\n%s\nwant:\n%s", got, c.want)
			}
			if db.Samples() != c.samples {
				t.Errorf("Samples() = %d, want %d", db.Samples(), c.samples)
			}
			if c.samples > 0 && (db.MinTime().UnixMilli() != c.minT || db.MaxTime().UnixMilli() != c.maxT) {
				t.Errorf("time range %s..%s, want %d..%d", db.MinTime(), db.MaxTime(), c.minT, c.maxT)
			}
			if c.samples == 0 && (!db.MinTime().IsZero() || !db.MaxTime().IsZero()) {
				t.Errorf("empty DB has time range %s..%s", db.MinTime(), db.MaxTime())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		file, want string
	}{
		{"unsorted.om", `testdata/unsorted.om:3: sample for {__name__="up"} at 2023-11-14T22:13:50.000Z (1700000030.000) is older than the previous one at 2023-11-14T22:14:20.000Z (1700000060.000) (samples of a series must be in time order)`},
		{"duplicate.om", `testdata/duplicate.om:4: duplicate sample for {__name__="up", a="1"} at 2023-11-14T22:13:20.000Z (1700000000.000)`},
		{"no_eof.om", `testdata/no_eof.om:3: data does not end with # EOF (is the file complete?)`},
		{"garbage.om", `testdata/garbage.om:2: strconv.ParseFloat: parsing "is": invalid syntax while parsing: "this is"`},
		{"no_timestamp.om", `testdata/no_timestamp.om:2: sample without a timestamp (recorded data needs one on every sample)`},
		{"data_after_eof.om", `testdata/data_after_eof.om:3: unexpected data after # EOF`},
		{"blank_line.om", `testdata/blank_line.om:2: expected a valid start token, got "\n" ("INVALID") while parsing: "\n"`},
		{"comment.om", `testdata/comment.om:2: expected a valid start token, got "# j" ("INVALID") while parsing: "# j"`},
		{"bad_labels.om", `testdata/bad_labels.om:2: expected comma or brace close, got " " ("INVALID") while parsing: "up{a=\"1\" "`},
		{"bad_value.om", `testdata/bad_value.om:1: not OpenMetrics text with timestamps: the first line is "up one 1700000000" (strconv.ParseFloat: parsing "one": invalid syntax)`},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := ParseFile(filepath.Join("testdata", c.file))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != c.want {
				t.Errorf("error\n got %s\nwant %s", err, c.want)
			}
		})
	}
}

// TestParseLineNumbersAcrossChunks puts the error far past the first parser chunk, so the line
// number has to survive chunking.
func TestParseLineNumbersAcrossChunks(t *testing.T) {
	var b strings.Builder
	n := 0
	for b.Len() < 3*chunkSize {
		fmt.Fprintf(&b, "# HELP c_total A counter.\nc_total{i=\"%d\"} %d %d\n", n%7, n, 1700000000+n)
		n++
	}
	fmt.Fprintf(&b, "c_total{i=\"%d\"} 1 %d\n# EOF\n", (n-1)%7, 1700000000+n-1)
	_, err := Parse(strings.NewReader(b.String()), "big.om")
	want := fmt.Sprintf("big.om:%d: duplicate sample", 2*n+1)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want one starting with %q", err, want)
	}
}

func TestParseLongLine(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "m{l=\"" + long + "\"} 1 1700000000\n# EOF"
	db, err := Parse(strings.NewReader(in), "long.om")
	if err != nil {
		t.Fatal(err)
	}
	if db.Samples() != 1 || !db.MinTime().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("got %d samples from %s", db.Samples(), db.MinTime())
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join("testdata", "does-not-exist.om"))
	if !os.IsNotExist(err) && (err == nil || !strings.Contains(err.Error(), "no such file")) {
		t.Fatalf("error %v, want a missing-file error", err)
	}
}

func TestDecimalMillis(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1700000000", 1700000000000, true},
		{"1700000000.001", 1700000000001, true},
		{"1700000000.5", 1700000000500, true},
		{"1700000000.", 1700000000000, true},
		{"-1.25", -1250, true},
		{"0.999", 999, true},
		{"1700000000.0001", 0, false},
		{"1.7e9", 0, false},
		{"", 0, false},
		{"1.2.3", 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := decimalMillis([]byte(c.in))
			if got != c.want || ok != c.ok {
				t.Errorf("decimalMillis(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestParseTimestampsExact(t *testing.T) {
	// Every millisecond of a second, and exponent and many-digit spellings, land on the right ms.
	var b strings.Builder
	for ms := range 1000 {
		fmt.Fprintf(&b, "a 1 1700000000.%03d\n", ms)
	}
	b.WriteString("b 1 1.7000000000015e9\nb 2 1700000000.0025\n# EOF\n")
	db, err := Parse(strings.NewReader(b.String()), "ts.om")
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, db)
	var want strings.Builder
	for ms := range 1000 {
		fmt.Fprintf(&want, "{__name__=\"a\"} %d 1\n", 1700000000000+int64(ms))
	}
	want.WriteString("{__name__=\"b\"} 1700000000002 1\n{__name__=\"b\"} 1700000000003 2\n")
	if got != want.String() {
		t.Errorf("timestamps differ:\n%s", got[len(got)-120:])
	}
}

// TestParseTypeAcrossChunks: textparse normalises le="0.30" to "0.3" in a histogram family; the
// TYPE line is in the first chunk, most samples in later ones, and all must land in one series.
func TestParseTypeAcrossChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("# TYPE h histogram\n")
	n := 0
	for b.Len() < 2*chunkSize+100 {
		fmt.Fprintf(&b, "h_bucket{le=\"0.30\"} %d %d\n", n, 1700000000+n)
		n++
	}
	// A series first seen in a later chunk.
	b.WriteString("h_bucket{le=\"0.30\",x=\"late\"} 1 1700000000\n")
	b.WriteString("# TYPE g gauge\ng{le=\"0.30\"} 1 1700000000\n# EOF\n")
	db, err := Parse(strings.NewReader(b.String()), "h.om")
	if err != nil {
		t.Fatal(err)
	}
	q, _ := db.Querier(math.MinInt64, math.MaxInt64)
	for _, c := range []struct {
		name, le string
		samples  int
		x        string
	}{{"h_bucket", "0.3", n, ""}, {"h_bucket", "0.3", 1, "late"}, {"g", "0.30", 1, ""}} {
		ss := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", c.name), labels.MustNewMatcher(labels.MatchEqual, "x", c.x))
		var got []string
		count := 0
		for ss.Next() {
			got = append(got, ss.At().Labels().Get("le"))
			it := ss.At().Iterator(nil)
			for it.Next() == chunkenc.ValFloat {
				count++
			}
		}
		if len(got) != 1 || got[0] != c.le || count != c.samples {
			t.Errorf("%s: series with le %q and %d samples, want one with le %q and %d", c.name, got, count, c.le, c.samples)
		}
	}
}

// TestParseBadFiles: files that are not what slod check needs get a short error naming the line
// and saying what is wrong, never a panic or a message the size of the file.
func TestParseBadFiles(t *testing.T) {
	huge := strings.Repeat("a", 16<<20)
	cases := []struct {
		name, in, want string
	}{
		// Prometheus's label encoding panics at 16 MiB: a file:line error instead.
		{"huge label", "m{l=\"" + huge + "\"} 1 1700000000\n# EOF\n",
			`huge.om:1: a series of 16777223 bytes ("m{l=\"` + strings.Repeat("a", 115) + `"… (16777223 bytes)): slod reads series of at most 1 MiB`},
		{"huge malformed line", "up 1 1700000000\nup" + strings.Repeat("z", 5<<20) + " bad 1700000060\n# EOF\n",
			`huge.om:2: strconv.ParseFloat: parsing "bad": invalid syntax while parsing: …"` + strings.Repeat("z", 116) + ` bad" (5242886 bytes)`},
		{"truncated", "x 1 1700000000\nx 2 1700000060\nx 3 17000",
			`huge.om:3: the data ends in the middle of a line ("x 3 17000") without # EOF: the file is truncated`},
		{"truncated after a bad line", "x 1 1700000000\nx two 1700000060\nx 3 17000",
			`huge.om:2: strconv.ParseFloat: parsing "two": invalid syntax while parsing: "x two"`},
		{"complete lines without # EOF", "x 1 1700000000\n", `huge.om:2: data does not end with # EOF (is the file complete?)`},
		{"JSON", `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			`huge.om:1: not OpenMetrics text with timestamps: the first line is "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}" (expected equal, got ":" ("INVALID"))`},
		{"YAML", "version: slod/v1\nservice: x\n",
			`huge.om:1: not OpenMetrics text with timestamps: the first line is "version: slod/v1" (strconv.ParseFloat: parsing "slod/v1": invalid syntax)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in), "huge.om")
			if err == nil || err.Error() != c.want {
				t.Fatalf("error\n got %.2000v\nwant %s", err, c.want)
			}
		})
	}
}
