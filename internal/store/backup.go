package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent snapshot of the whole store to w and returns the number of bytes
// written. It runs in a read transaction, so cycles keep committing while it streams; the copy is
// the store as of the moment Backup began.
func (s *Store) Backup(w io.Writer) (int64, error) { return s.BackupSized(w, nil) }

// BackupSized is Backup calling size, when not nil, with the snapshot's exact length before it
// writes the first byte: the daemon's backup endpoint sends it as Content-Length, so that a client
// can tell a cut-off stream from a whole one.
func (s *Store) BackupSized(w io.Writer, size func(int64)) (int64, error) {
	var n int64
	err := s.view("backing up", func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Verify checks a store file (a backup, say) without changing it: it opens read-only, has a
// schema this slod reads, every record decodes and bbolt's consistency check passes. It returns
// what the file holds.
func Verify(path string) (Stats, error) {
	db, err := openBolt(path, true)
	if err != nil {
		return Stats{}, err
	}
	st, err := checkStore(db, path, true, false)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s after verifying it: %w", path, cerr)
	}
	return st, err
}

// RestoreOptions changes what Restore may do.
type RestoreOptions struct {
	// Force replaces an existing store that no process holds. A store in use (the daemon runs)
	// is never replaced.
	Force bool
	// Check, when set, is called with the verified snapshot (open read-only) before it is moved
	// into place; an error refuses the restore. The daemon's record check goes here, so that
	// what restore accepts is what slod run starts with.
	Check func(*Store) error
}

// Restore installs the store file read from r as <dir>/slod.db, refusing when a store exists
// there. It is RestoreWithOptions with no options.
func Restore(r io.Reader, dir string) error {
	_, err := RestoreWithOptions(r, dir, RestoreOptions{})
	return err
}

// RestoreWithOptions writes r to a temporary file in dir, verifies it (Verify), and renames it
// over <dir>/slod.db, so that the store is either the old one or the whole verified new one. It
// refuses (ErrLocked) when the existing store is in use and (ErrExists) when one exists at all
// unless opt.Force is set. It returns what the restored store holds.
func RestoreWithOptions(r io.Reader, dir string, opt RestoreOptions) (Stats, error) {
	path := filepath.Join(dir, FileName)
	// Check before reading a possibly large stream, and again before the rename, because a
	// daemon may have started meanwhile.
	if err := checkTarget(path, opt.Force); err != nil {
		return Stats{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Stats{}, fmt.Errorf("creating storage directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".slod.db.restore-*")
	if err != nil {
		return Stats{}, fmt.Errorf("creating temporary file for restore: %w", err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = os.Remove(tmpName)
		}
	}()
	n, err := io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Stats{}, fmt.Errorf("writing restored store to %s: %w", tmpName, err)
	}
	st, err := Verify(tmpName)
	if err == nil && opt.Check != nil {
		err = checkWith(tmpName, opt.Check)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("verifying the store to restore (%d bytes): %w", n, err)
	}
	if err := checkTarget(path, opt.Force); err != nil {
		return Stats{}, err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return Stats{}, fmt.Errorf("moving restored store into place: %w", err)
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return Stats{}, err
	}
	st.Bytes = n
	return st, nil
}

// checkWith opens the store file at path read-only and runs check on it.
func checkWith(path string, check func(*Store) error) error {
	db, err := openBolt(path, true)
	if err != nil {
		return err
	}
	s := &Store{db: db, path: path, readOnly: true}
	err = check(s)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// checkTarget refuses to replace a store in use, or any existing store without force. The lock
// is probed with a read-only bbolt open: it conflicts with the daemon's exclusive lock.
func checkTarget(path string, force bool) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("checking restore target %s: %w", path, err)
	}
	db, err := openBolt(path, true)
	if errors.Is(err, ErrLocked) {
		return fmt.Errorf("refusing to restore over a live store: %w", err)
	}
	if db != nil {
		_ = db.Close()
	}
	// Any other error means the existing file is damaged, which is what a forced restore is for.
	if !force {
		return fmt.Errorf("refusing to replace %s: %w", path, ErrExists)
	}
	return nil
}

// syncDir makes the rename durable: without it a power cut may bring back the old directory entry.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
