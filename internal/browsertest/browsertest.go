// Package browsertest drives Debian's headless Chromium from Go tests (through chromedp): one
// browser per test binary, a tab per test, and a record of every request a page made and every
// error it logged, so that tests can require pages to load nothing from elsewhere and to run
// without console errors. Only tests import it.
//
// A test that needs the browser calls Get: without Chromium it is skipped, unless the environment
// variable CI is set, where it fails (CI installs chromium, .ci/run). The browser is started on
// first use and stopped by Shutdown, which the package's TestMain calls after m.Run.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is the shared headless Chromium of a test binary.
type Browser struct {
	ctx    context.Context
	cancel func()
	dir    string
}

var (
	once    sync.Once
	shared  *Browser
	initErr error
)

// execPath finds Chromium: Debian's chromium package, or another name on PATH.
func execPath() (string, error) {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH (Debian: apt-get install chromium)")
}

// Get returns the shared browser, starting it on first use. Without Chromium the test is
// skipped, or fails under CI.
func Get(t testing.TB) *Browser {
	t.Helper()
	once.Do(func() { shared, initErr = start() })
	if initErr != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("skipping the browser test: %v", initErr)
		}
		t.Fatalf("browser: %v", initErr)
	}
	return shared
}

// start launches Chromium headless with a user-data directory of its own (removed by Shutdown).
// As root (CI) Chromium refuses to start without --no-sandbox.
func start() (*Browser, error) {
	path, err := execPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "slod-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	stop := func() { bcancel(); acancel(); os.RemoveAll(dir) }
	// The first action starts the browser, bound to the context it runs on: that context must be
	// the browser's own, so its start is bounded by a timer instead of a deadline.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			stop()
			return nil, fmt.Errorf("starting %s: %w", path, err)
		}
	case <-time.After(time.Minute):
		stop()
		return nil, fmt.Errorf("starting %s: no answer within a minute", path)
	}
	return &Browser{ctx: bctx, cancel: func() { bcancel(); acancel() }, dir: dir}, nil
}

// Shutdown stops the shared browser, if it was started, and removes its directory.
func Shutdown() {
	if shared != nil {
		shared.cancel()
		os.RemoveAll(shared.dir)
	}
}

// Page is one tab, which records the requests it makes and the errors it logs.
type Page struct {
	Ctx    context.Context
	cancel func()

	mu       sync.Mutex
	requests []string
	errors   []string
}

// NewPage opens a tab whose every action must end within timeout; it is closed when the test
// ends.
func (b *Browser) NewPage(t testing.TB, timeout time.Duration) *Page {
	t.Helper()
	tctx, tcancel := chromedp.NewContext(b.ctx)
	ctx, cancel := context.WithTimeout(tctx, timeout)
	p := &Page{Ctx: ctx, cancel: func() { cancel(); tcancel() }}
	t.Cleanup(p.cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			p.add(&p.requests, ev.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				p.add(&p.errors, "console."+string(ev.Type)+": "+consoleText(ev.Args))
			}
		case *runtime.EventExceptionThrown:
			p.add(&p.errors, "exception: "+ev.ExceptionDetails.Text+exceptionText(ev.ExceptionDetails))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p.add(&p.errors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return p
}

func (p *Page) add(list *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, s)
}

func consoleText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return " " + d.Exception.Description
	}
	return ""
}

// Open loads url and waits until slod.js has drawn the page (body[data-ready]).
func (p *Page) Open(url string) error {
	return chromedp.Do(p.Ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body[data-ready]")))
}

// Eval evaluates a JavaScript expression in the page and decodes its value into T.
func Eval[T any](p *Page, expr string) (T, error) {
	return chromedp.Run(p.Ctx, chromedp.Evaluate[T](expr))
}

// Screenshot writes a PNG of the whole page to path.
func (p *Page) Screenshot(path string) error {
	b, err := chromedp.Run(p.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ScreenshotTop writes a PNG of the top of the page, width × height pixels, to path.
func (p *Page) ScreenshotTop(path string, width, height int64) error {
	if err := chromedp.Do(p.Ctx, chromedp.EmulateViewport(width, height)); err != nil {
		return err
	}
	b, err := chromedp.Run(p.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Errors returns the errors the page logged: console errors, uncaught exceptions, and the
// browser's error entries (a request refused by the Content-Security-Policy, a failed load).
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// Requests returns the URLs of every request the page made.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// CheckLocal fails t for every request that went anywhere but 127.0.0.1 (file: and data: URLs of
// a page opened from disk are local too), and for every error the page logged.
func (p *Page) CheckLocal(t testing.TB) {
	t.Helper()
	for _, r := range p.Requests() {
		u, err := url.Parse(r)
		switch {
		case err != nil:
			t.Errorf("unparsable request URL %q", r)
		case u.Scheme == "file" || u.Scheme == "data" || u.Scheme == "about":
		case u.Hostname() != "127.0.0.1":
			t.Errorf("the page requested %s: only 127.0.0.1 may be asked", r)
		}
	}
	for _, e := range p.Errors() {
		t.Errorf("the page logged an error: %s", e)
	}
}
