package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// BookingSummary is enough of a booking to recognise it.
type BookingSummary struct {
	ID        int64
	Owner     string
	Arrival   Date
	Departure Date
	Status    string
	CreatedAt time.Time
}

func (b *BookingSummary) String() string {
	return fmt.Sprintf("#%d by %s, %s to %s, %s, created %s", b.ID, b.Owner, b.Arrival, b.Departure, b.Status,
		b.CreatedAt.Format(time.RFC3339))
}

// BookingsSummary is what a person checks first in a copy of the database.
type BookingsSummary struct {
	Count int64
	// Latest is the most recently created booking, nil if none.
	Latest *BookingSummary
	// LastChange is the newest change to any booking.
	LastChange time.Time
}

// SummarizeBookings describes the bookings as tx sees them. It takes the
// caller's transaction rather than being a method of Store because it
// describes database files that are never opened as a Store (a restore, a
// copy), and its figures must belong to the same moment as the rest of that
// description. A database without a bookings table has no bookings.
func SummarizeBookings(ctx context.Context, tx *sql.Tx) (BookingsSummary, error) {
	var s BookingsSummary
	var tables int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'bookings'`).Scan(&tables); err != nil || tables == 0 {
		return s, err
	}
	var (
		b                  BookingSummary
		arr, dep, created  string
		owner, lastChanged sql.NullString
	)
	err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM bookings), b.id, COALESCE(u.name, '?'), b.arrival, b.departure,
			b.status, b.created_at, (SELECT MAX(updated_at) FROM bookings)
		FROM bookings b LEFT JOIN users u ON u.id = b.user_id
		ORDER BY b.created_at DESC, b.id DESC LIMIT 1`).Scan(&s.Count, &b.ID, &owner, &arr, &dep, &b.Status, &created, &lastChanged)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	} else if err != nil {
		return s, fmt.Errorf("summarize bookings: %w", err)
	}
	b.Owner = owner.String
	b.Arrival, _ = ParseDate(arr)
	b.Departure, _ = ParseDate(dep)
	b.CreatedAt = parseTimestamp(created)
	s.Latest = &b
	s.LastChange = parseTimestamp(lastChanged.String)
	return s, nil
}
