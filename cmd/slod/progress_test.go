package main

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProgress: nothing is drawn where stderr is not a terminal (a buffer, a file, a pipe), and the
// line counts steps, the share done and the queries.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := startProgress(&buf, 1000, nil)
	p.add(10)
	p.stop()
	if buf.Len() != 0 || p.quit != nil {
		t.Errorf("progress drawn on a buffer: %q", buf.String())
	}
	var queries atomic.Int64
	queries.Store(42)
	p = &progressBar{w: &buf, total: 4000, queries: &queries}
	p.add(1000)
	p.add(24)
	p.draw()
	line := buf.String()
	if !strings.HasPrefix(line, "\rslod check: [#######                       ]  25% of 4000 steps, 42 queries, ") || !strings.HasSuffix(line, "\033[K") {
		t.Errorf("progress line %q", line)
	}
}
