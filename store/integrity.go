package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// IntegrityResult is the outcome of the last integrity check.
type IntegrityResult struct {
	At     time.Time
	OK     bool
	Detail string // "ok" or SQLite's first complaints
}

// CheckIntegrity runs SQLite's quick_check (the full integrity_check reads
// every index and takes minutes on an SD card; quick_check finds torn pages
// and broken records) and remembers the result for the health endpoint.
//
// A check that cannot even run on a damaged file ("database disk image is
// malformed") is a failed check, not a missing one: it is recorded as such
// and returned with its error. Only a cancelled check is not recorded.
func (s *Store) CheckIntegrity(ctx context.Context) (IntegrityResult, error) {
	lines, err := s.quickCheck(ctx)
	if err != nil && ctx.Err() != nil {
		return IntegrityResult{}, fmt.Errorf("integrity check: %w", err)
	}
	res := IntegrityResult{At: s.now(), Detail: strings.Join(lines, "; ")}
	if err != nil {
		res.Detail = "the check itself failed: " + err.Error()
		err = fmt.Errorf("integrity check: %w", err)
	}
	res.OK = err == nil && res.Detail == "ok"
	s.integrity.Store(&res)
	if !res.OK {
		s.markDamaged("integrity check: " + res.Detail)
	}
	return res, err
}

func (s *Store) quickCheck(ctx context.Context) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, `PRAGMA quick_check(10)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	return lines, rows.Err()
}

// LastIntegrity is the result of the last CheckIntegrity, nil before the
// first.
func (s *Store) LastIntegrity() *IntegrityResult { return s.integrity.Load() }

// PageCount is the number of pages of the database file.
func (s *Store) PageCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&n)
	return n, err
}
