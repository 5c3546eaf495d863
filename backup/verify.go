package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"booking/store"
)

// DatabaseSummary describes a database file for a person checking a
// restore or a backup: how big, how many bookings, the newest one.
type DatabaseSummary struct {
	Path          string
	Size          int64 // bytes of data (pages in use), WAL included
	SchemaVersion int
	Tables        []TableSummary
	Bookings      int64
	// LatestBooking is the most recently created booking, nil if none.
	LatestBooking *store.BookingSummary
	// LastBookingChange is the newest change to any booking.
	LastBookingChange time.Time
}

// TableSummary is one table: its rows and a checksum of its contents, so
// two copies can be compared without comparing rows one by one.
type TableSummary struct {
	Name     string
	Rows     int64
	Checksum string
}

// Table returns the summary of the named table, nil if there is none.
func (s *DatabaseSummary) Table(name string) *TableSummary {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}

// openReadOnly opens a database for reading only. immutable is for files
// nobody else touches (a fresh restore): SQLite then takes no locks and
// creates no -shm. A live database needs the locks to see its WAL.
func openReadOnly(path string, immutable bool) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	if immutable {
		q.Set("immutable", "1")
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// integrityCheck runs PRAGMA integrity_check (or quick_check) and returns
// what it found wrong, nothing when the file is sound.
func integrityCheck(ctx context.Context, path string, quick bool) ([]string, error) {
	db, err := openReadOnly(path, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	pragma := "PRAGMA integrity_check(20)"
	if quick {
		pragma = "PRAGMA quick_check(20)"
	}
	rows, err := db.QueryContext(ctx, pragma)
	if err != nil {
		return []string{err.Error()}, nil
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return []string{err.Error()}, nil
	}
	return problems, nil
}

// Summarize describes the database at path. It is for a file nobody writes
// to (a restore, a backup); SummarizeLive is for the server's database.
func Summarize(ctx context.Context, path string) (*DatabaseSummary, error) {
	return summarize(ctx, path, true)
}

// SummarizeLive describes a database that may be in use, in one read
// transaction so that counts and checksums belong to the same moment.
func SummarizeLive(ctx context.Context, path string) (*DatabaseSummary, error) {
	return summarize(ctx, path, false)
}

func summarize(ctx context.Context, path string, immutable bool) (*DatabaseSummary, error) {
	db, err := openReadOnly(path, immutable)
	if err != nil {
		return nil, fmt.Errorf("summarize %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("summarize %s: %w", path, err)
	}
	defer tx.Rollback()
	s := &DatabaseSummary{Path: path}
	var pages, pageSize int64
	if err := tx.QueryRowContext(ctx, `SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&pages, &pageSize); err != nil {
		return nil, fmt.Errorf("summarize %s: %w", path, err)
	}
	s.Size = pages * pageSize
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&s.SchemaVersion); err != nil {
		return nil, fmt.Errorf("summarize %s: %w", path, err)
	}
	// Litestream's own tables are left out: they are bookkeeping that may
	// differ between copies of the same data.
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_litestream\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("summarize %s: %w", path, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("summarize %s: %w", path, err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		ts, err := summarizeTable(ctx, tx, n)
		if err != nil {
			return nil, fmt.Errorf("summarize %s: table %s: %w", path, n, err)
		}
		s.Tables = append(s.Tables, ts)
	}
	b, err := store.SummarizeBookings(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("summarize %s: %w", path, err)
	}
	s.Bookings, s.LatestBooking, s.LastBookingChange = b.Count, b.Latest, b.LastChange
	return s, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// summarizeTable counts the rows and hashes them in the order of all their
// columns, which does not depend on where the rows sit in the file.
func summarizeTable(ctx context.Context, tx *sql.Tx, name string) (TableSummary, error) {
	ts := TableSummary{Name: name}
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+quoteIdent(name)+` LIMIT 0`)
	if err != nil {
		return ts, err
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return ts, err
	}
	order := make([]string, len(cols))
	for i := range cols {
		order[i] = fmt.Sprint(i + 1)
	}
	rows, err = tx.QueryContext(ctx, `SELECT * FROM `+quoteIdent(name)+` ORDER BY `+strings.Join(order, ", "))
	if err != nil {
		return ts, err
	}
	defer rows.Close()
	h := sha256.New()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return ts, err
		}
		ts.Rows++
		for _, v := range vals {
			fmt.Fprintf(h, "%T:%v\x1f", v, v)
		}
		h.Write([]byte{'\x1e'})
	}
	if err := rows.Err(); err != nil {
		return ts, err
	}
	ts.Checksum = hex.EncodeToString(h.Sum(nil)[:8])
	return ts, nil
}

// Verdict is the outcome of VerifyBackup.
type Verdict string

const (
	// VerdictOK: the backup restores, is intact and holds the live data
	// (or all but changes younger than the allowed lag).
	VerdictOK Verdict = "ok"
	// VerdictStale: the backup is intact but misses changes older than
	// the allowed lag: replication is not keeping up or not running.
	VerdictStale Verdict = "stale"
	// VerdictBroken: the backup cannot be restored or is damaged.
	VerdictBroken Verdict = "broken"
)

// VerifyOptions tune VerifyBackup.
type VerifyOptions struct {
	// MaxLag is how much younger than the newest backup a live change may
	// be and still count as on its way (default 5m).
	MaxLag time.Duration
}

// VerifyReport is what VerifyBackup found.
type VerifyReport struct {
	Verdict Verdict
	Reason  string

	Point     RestorePoint // what the newest restore gave
	Window    RestoreWindow
	Integrity []string // problems found; empty when intact
	Backup    *DatabaseSummary
	// Live is the server's database; nil when there is none.
	Live *DatabaseSummary
	// Differences name the tables whose contents differ.
	Differences []string
	// LiveChangedAt is when the live database's files last changed.
	LiveChangedAt time.Time
}

// VerifyBackup restores the newest state of the replica into a temporary
// file, checks its integrity and compares it with the live database. It
// is safe while the server runs. An error means the check itself could
// not run; a bad backup is a report with VerdictBroken or VerdictStale.
func VerifyBackup(ctx context.Context, dbPath string, cfg ReplicaConfig, opt VerifyOptions) (*VerifyReport, error) {
	if opt.MaxLag <= 0 {
		opt.MaxLag = 5 * time.Minute
	}
	dir, err := os.MkdirTemp("", "booking-verify-")
	if err != nil {
		return nil, fmt.Errorf("verify backup: %w", err)
	}
	defer os.RemoveAll(dir)
	rep := &VerifyReport{}
	res, err := Restore(ctx, cfg, RestoreOptions{OutputPath: filepath.Join(dir, "latest.db")})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		rep.Verdict, rep.Reason = VerdictBroken, "the newest backup cannot be restored: "+err.Error()
		if strings.Contains(err.Error(), "damaged") {
			rep.Integrity = []string{err.Error()}
		}
		return rep, nil
	}
	rep.Point, rep.Window, rep.Backup = res.Point, res.Window, res.Summary

	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		rep.Verdict, rep.Reason = VerdictOK, "the backup restores and is intact; there is no live database at "+dbPath+" to compare it with"
		return rep, nil
	}
	// Read the files' times first: a change after this is newer than the
	// summary and shows as a lag, never hides one.
	rep.LiveChangedAt = lastModified(dbPath)
	live, err := SummarizeLive(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("verify backup: reading the live database: %w", err)
	}
	rep.Live = live
	rep.LiveChangedAt = later(rep.LiveChangedAt, lastModified(dbPath))
	rep.Differences = compareSummaries(rep.Backup, live)
	if len(rep.Differences) == 0 {
		rep.Verdict, rep.Reason = VerdictOK, "the backup is intact and matches the live database"
		return rep, nil
	}
	lag := rep.LiveChangedAt.Sub(rep.Window.End)
	if lag >= 0 && lag <= opt.MaxLag {
		rep.Verdict = VerdictOK
		rep.Reason = fmt.Sprintf("the backup is intact; the live database changed %s after the newest backup point, which is within the allowed %s (the change is on its way)",
			lag.Round(time.Millisecond), opt.MaxLag)
		return rep, nil
	}
	rep.Verdict = VerdictStale
	if lag < 0 {
		rep.Reason = "the newest backup point is newer than the live database's last change, yet they differ: is the replica written by another database?"
	} else {
		rep.Reason = fmt.Sprintf("the live database has changes from %s that the backup lacks; the newest backup point is from %s (%s earlier, more than the allowed %s)",
			rep.LiveChangedAt.Format(time.RFC3339), rep.Window.End.Format(time.RFC3339), lag.Round(time.Second), opt.MaxLag)
	}
	return rep, nil
}

// lastModified is the newest modification time of the database and its WAL.
func lastModified(dbPath string) time.Time {
	var t time.Time
	for _, p := range []string{dbPath, dbPath + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			t = later(t, fi.ModTime())
		}
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func compareSummaries(backup, live *DatabaseSummary) []string {
	names := map[string]bool{}
	for _, t := range backup.Tables {
		names[t.Name] = true
	}
	for _, t := range live.Tables {
		names[t.Name] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, n := range sorted {
		b, l := backup.Table(n), live.Table(n)
		switch {
		case b == nil:
			diffs = append(diffs, fmt.Sprintf("%s: only in the live database (%d rows)", n, l.Rows))
		case l == nil:
			diffs = append(diffs, fmt.Sprintf("%s: only in the backup (%d rows)", n, b.Rows))
		case b.Rows != l.Rows:
			diffs = append(diffs, fmt.Sprintf("%s: %d rows in the backup, %d live", n, b.Rows, l.Rows))
		case b.Checksum != l.Checksum:
			diffs = append(diffs, fmt.Sprintf("%s: %d rows in both, with different contents", n, b.Rows))
		}
	}
	return diffs
}

// BackupTo writes a consistent copy of the database at dbPath to out with
// VACUUM INTO. It reads in one transaction, so it is safe while the server
// runs, and it never overwrites a file.
func BackupTo(ctx context.Context, dbPath, out string) (*DatabaseSummary, error) {
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
