package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"time"
)

// A restore can lose the last bookings: those made after the restored
// point (a restore to an earlier time) or after the replica's last sync (a
// dead SD card). Their ids were handed out: a confirmation mail or a saved
// link points at them. The restored file's sqlite_sequence only knows the
// ids it holds, so without help the next bookings would get those ids
// again, and an old link would show somebody else's stay. After a restore,
// package backup raises the sequence above every id it can know of, plus a
// margin for those it cannot (see backup.reserveBookingIDs).

// HighestBookingID is the highest booking id a database file holds or has
// handed out (its sqlite_sequence), 0 when it has no bookings table. It
// reads a file that is not open as a Store: a restore, or the database a
// restore moved aside.
func HighestBookingID(ctx context.Context, path string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'bookings'`).Scan(&tables); err != nil || tables == 0 {
		return 0, err
	}
	var highest int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM bookings`).Scan(&highest); err != nil {
		return 0, fmt.Errorf("highest booking id of %s: %w", path, err)
	}
	var seq sql.NullInt64
	err = db.QueryRowContext(ctx, `SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'bookings'`).Scan(&seq)
	if err == nil && seq.Int64 > highest {
		highest = seq.Int64
	}
	return highest, nil
}

// RecentBookings is how many bookings in the database file at path were
// created within d before its newest one: how fast they were coming in at
// the end of what the file holds.
func RecentBookings(ctx context.Context, path string, d time.Duration) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var newest sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT MAX(created_at) FROM bookings`).Scan(&newest); err != nil || !newest.Valid {
		return 0, err
	}
	var n int64
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM bookings WHERE created_at >= ?`,
		timestamp(parseTimestamp(newest.String).Add(-d))).Scan(&n)
	return n, err
}

// RaiseBookingIDs opens the database at path (bringing its schema up to
// date) and makes sure every booking created from now on gets an id above
// floor. It never lowers the sequence.
func RaiseBookingIDs(ctx context.Context, path string, floor int64) error {
	s, err := Open(ctx, path, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = ? WHERE name = 'bookings' AND seq < ?`, floor, floor)
		if err != nil {
			return fmt.Errorf("raise booking ids: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq)
			SELECT 'bookings', ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'bookings')`, floor)
		if err != nil {
			return fmt.Errorf("raise booking ids: %w", err)
		}
		return nil
	})
}
