package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
)

// configMapDir lays out files as kubelet mounts a ConfigMap without subPath: each file is a
// symlink through ..data to a timestamped directory, and an update swaps ..data atomically.
type configMapDir struct {
	t   *testing.T
	dir string
	gen int
}

func newConfigMapDir(t *testing.T, dir string, files map[string]string) *configMapDir {
	t.Helper()
	c := &configMapDir{t: t, dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.update(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// update writes a new generation of the files and points ..data at it, as kubelet does.
func (c *configMapDir) update(files map[string]string) {
	c.t.Helper()
	c.gen++
	gen := fmt.Sprintf("..2026_12_06_00_00_%02d.%d", c.gen, c.gen)
	if err := os.MkdirAll(filepath.Join(c.dir, gen), 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, content := range files {
		writeFile(c.t, filepath.Join(c.dir, gen, name), content)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(gen, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
}

// TestAutoReload mounts config and rules as ConfigMap directories and changes them as kubelet
// does: --config.auto-reload-interval picks up a new rule file, keeps the last good rules when a
// file is broken (once, not at every check), and loads the fixed file; nothing reloads while the
// files stay as they are.
func TestAutoReload(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(strings.Replace(testConfig, "rules: [rules/]", "rules: [../rules/]", 1), testBearer, testRoutingKey)
	newConfigMapDir(t, filepath.Join(dir, "config"), map[string]string{"slod.yml": cfg})
	rulesDir := newConfigMapDir(t, filepath.Join(dir, "rules"), map[string]string{"shop.yaml": testRules})

	mock := clock.NewMock()
	mock.Set(t0)
	logs := &syncWriter{w: &strings.Builder{}}
	reg := prometheus.NewRegistry()
	d, err := New(context.Background(), Options{
		ConfigFile:  filepath.Join(dir, "config", "slod.yml"),
		StoragePath: filepath.Join(dir, "data"),
		Logger:      slog.New(slog.NewJSONHandler(logs, nil)),
		Clock:       mock,
		Registry:    reg,
		AutoReload:  30 * time.Second,
		NewQuerier: func(promapi.Config, promapi.Options) (sli.Querier, error) {
			return &fakeSource{bad: func(time.Time) float64 { return 0 }, total: func(time.Time) float64 { return 1 }}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.watchConfig(ctx, 30*time.Second) }()
	defer func() { cancel(); <-done }()

	slos := func() []string {
		var ids []string
		for _, v := range d.sloViews() {
			ids = append(ids, v.ID)
		}
		return ids
	}
	reloadTime := func() float64 { return metricValue(d.m.reloadSuccessTime) }
	// tick advances the mock clock by one interval at a time until cond holds (the watcher's
	// ticker may not exist yet at the first tick).
	tick := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 30s of checks; SLOs %v, logs:\n%s", what, slos(), logs.String())
			}
			mock.Add(30 * time.Second)
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Unchanged files: no reload, however many checks.
	before := reloadTime()
	for range 5 {
		mock.Add(30 * time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	if reloadTime() != before {
		t.Fatal("reloaded although nothing changed")
	}

	// A new rule file appears.
	second := strings.Replace(testRules, "service: shop", "service: cart", 1)
	rulesDir.update(map[string]string{"shop.yaml": testRules, "cart.yaml": second})
	if err := os.Symlink("..data/cart.yaml", filepath.Join(dir, "rules", "cart.yaml")); err != nil {
		t.Fatal(err)
	}
	tick("the new rule file loaded", func() bool { return len(slos()) == 2 })

	// A broken file: the last good rules stay, the failure is reported once.
	rulesDir.update(map[string]string{"shop.yaml": testRules, "cart.yaml": "version: slod/v1\nservice: cart\nslos: [{name: x}]\n"})
	tick("the broken file refused", func() bool { return metricValue(d.m.reloadSuccessful) == 0 })
	for range 5 {
		mock.Add(30 * time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	if got := slos(); len(got) != 2 {
		t.Errorf("SLOs after a broken file: %v, want the last good two", got)
	}
	if n := strings.Count(logs.String(), "reload failed"); n != 1 {
		t.Errorf("%d reload failures logged for one broken file, want 1", n)
	}

	// Fixed.
	rulesDir.update(map[string]string{"shop.yaml": testRules, "cart.yaml": strings.Replace(second, "name: availability", "name: latency", 1)})
	tick("the fixed file loaded", func() bool { return metricValue(d.m.reloadSuccessful) == 1 })
	if got := slos(); len(got) != 2 || got[0] != "cart/latency" && got[1] != "cart/latency" {
		t.Errorf("SLOs after the fix: %v, want shop/availability and cart/latency", got)
	}
}
