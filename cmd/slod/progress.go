package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progressBar writes how far a backtest got to a terminal, on one line redrawn in place, and clears
// it when stopped. It writes nothing when stderr is not a terminal (a file, a pipe, a CI log), so
// that logs hold the report's messages only.
type progressBar struct {
	w       io.Writer
	total   int64
	done    atomic.Int64
	queries *atomic.Int64
	began   time.Time
	quit    chan struct{}
	wg      sync.WaitGroup
}

// progressEvery is how often the line is redrawn.
const progressEvery = 250 * time.Millisecond

// startProgress starts drawing the progress of total evaluation steps (and of the queries counted
// in queries, when not nil) on stderr if it is a terminal.
func startProgress(stderr io.Writer, total int64, queries *atomic.Int64) *progressBar {
	p := &progressBar{w: stderr, total: total, queries: queries, began: time.Now()}
	if !isTerminal(stderr) || total <= 0 {
		return p
	}
	p.quit = make(chan struct{})
	p.wg.Go(func() {
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-p.quit:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-tick.C:
				p.draw()
			}
		}
	})
	return p
}

// isTerminal reports whether w is a character device: a terminal (or /dev/null, where the line
// costs nothing). Files and pipes are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// add counts steps evaluated (eval.Options.Progress).
func (p *progressBar) add(steps int) { p.done.Add(int64(steps)) }

func (p *progressBar) draw() {
	done := p.done.Load()
	const width = 30
	filled := int(int64(width) * done / p.total)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '#'
		}
	}
	line := fmt.Sprintf("\rslod check: [%s] %3d%% of %d steps", bar, 100*done/p.total, p.total)
	if p.queries != nil {
		line += fmt.Sprintf(", %d queries", p.queries.Load())
	}
	line += fmt.Sprintf(", %s\033[K", time.Since(p.began).Round(time.Second))
	io.WriteString(p.w, line)
}

// stop clears the line.
func (p *progressBar) stop() {
	if p.quit != nil {
		close(p.quit)
		p.wg.Wait()
		p.quit = nil
	}
}
