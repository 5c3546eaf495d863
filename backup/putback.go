package backup

import (
	"context"
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
// directory move into "<db>.before-restore-<time>", which it returns. As
// after a restore, booking numbers continue above both databases', so that
// a number the newer version gave out is never given to another booking.
func PutBack(ctx context.Context, lock *DatabaseLock, from string) (aside string, err error) {
	if lock == nil || lock.f == nil {
		return "", errors.New("put back: the database lock is not held")
	}
	dbPath := lock.dbPath
	tmp := dbPath + ".putting-back"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("put back %s: %w", from, err)
	}
	if aside, _, err = moveAside(dbPath, time.Now()); err != nil {
		os.Remove(tmp)
		return aside, err
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return aside, fmt.Errorf("put back: the old database is in %s, the copy in %s: %w", aside, tmp, err)
	}
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return aside, err
	}
	_, err = reserveBookingIDs(ctx, dbPath, aside)
	return aside, err
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
