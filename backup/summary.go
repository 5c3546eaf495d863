package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
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
