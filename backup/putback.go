package backup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// PutBack makes the copy at from (a "booking backup -o" file) the database
// again, for going back to the database from before an upgrade. It needs
// the database lock, which proves the server is not running. Nothing is
// deleted: the current database, its -wal and -shm and Litestream's
// directory move into "<db>.before-restore-<time>", which it returns.
func PutBack(lock *DatabaseLock, from string) (aside string, err error) {
	if lock == nil || lock.f == nil {
		return "", errors.New("put back: the database lock is not held")
	}
	dbPath := lock.dbPath
	tmp := dbPath + ".putting-back"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("put back %s: %w", from, err)
	}
	if aside, err = moveAside(dbPath, time.Now()); err != nil {
		os.Remove(tmp)
		return aside, err
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return aside, fmt.Errorf("put back: the old database is in %s, the copy in %s: %w", aside, tmp, err)
	}
	return aside, syncDir(filepath.Dir(dbPath))
}

// copyFile copies a file to a new one (mode 0600) and syncs it to disk.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
