package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/rules"
)

// configChecksum hashes the config file and every rule file it leads to (the files rules.Load
// would read, with their names), so that a changed, added or removed file changes it. A config
// that does not parse contributes its bytes only: the reload it triggers reports the error.
// Kubernetes updates a ConfigMap mounted as a directory by swapping a symlink, so a file is read
// either whole before or whole after an update.
func configChecksum(configFile string) string {
	h := sha256.New()
	hashFile(h, configFile)
	if cfg, err := config.Load(configFile); err == nil {
		if paths, err := cfg.RulePaths(); err == nil {
			files, err := rules.Files(paths)
			for _, f := range files {
				hashFile(h, f.Path)
			}
			if err != nil {
				fmt.Fprintf(h, "error %v\n", err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashFile writes the file's name and content (or the error reading it) into h.
func hashFile(h io.Writer, path string) {
	fmt.Fprintf(h, "file %q\n", path)
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(h, "error %v\n", err)
		return
	}
	defer f.Close()
	if n, err := io.Copy(h, f); err != nil {
		fmt.Fprintf(h, "error after %d bytes: %v\n", n, err)
	}
	fmt.Fprintln(h)
}

// watchConfig reloads when configChecksum changes, checking every interval on the daemon's clock,
// as Prometheus 3's --config.auto-reload-interval does. A reload that fails keeps the running
// config (Reload logs it and sets slod_config_last_reload_successful to 0) and is not retried
// until the files change again, so a bad file costs one error, not one per interval.
func (d *Daemon) watchConfig(ctx context.Context, interval time.Duration) error {
	last := d.loadedChecksum
	t := d.clock.Ticker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		sum := configChecksum(d.opt.ConfigFile)
		if sum == last {
			continue
		}
		last = sum
		d.log.Info("config or rule files changed; reloading", "config", d.opt.ConfigFile)
		_ = d.Reload()
	}
}
