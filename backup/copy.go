package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Copy writes a consistent copy of the database at dbPath to out with
// VACUUM INTO. It reads in one transaction, so it is safe while the server
// runs, and it never overwrites a file.
func Copy(ctx context.Context, dbPath, out string) (*DatabaseSummary, error) {
	if err := checkNewOutput(out); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tmp := out + ".tmp"
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("backup: there is no database at %s", dbPath)
	} else if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	// Not read-only: SQLite refuses VACUUM INTO on a read-only connection,
	// although it only reads the source.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("backup: %w", err)
	}
	// VACUUM INTO does not fsync its output: a copy that is not on the disk
	// yet is no backup.
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return Summarize(ctx, out)
}
