package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const houseFeedOccupiedOnlyKey = "house_feed_occupied_only"

// SetHouseFeedOccupiedOnly turns the privacy of the whole-house calendar
// feed on or off (administrators only).
func (s *Store) SetHouseFeedOccupiedOnly(ctx context.Context, actor *User, on bool) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("house feed setting: %w", ErrForbidden)
	}
	v := "0"
	if on {
		v = "1"
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, houseFeedOccupiedOnlyKey, v)
		return err
	})
	if err != nil {
		return fmt.Errorf("house feed setting: %w", err)
	}
	st := *s.Settings()
	st.HouseFeedOccupiedOnly = on
	s.settings.Store(&st)
	return nil
}

// FeedToken returns the secret of u's calendar feeds, "" before the first
// was made.
func (s *Store) FeedToken(ctx context.Context, userID int64) (string, error) {
	var token string
	err := s.reader.QueryRowContext(ctx, `SELECT token FROM feed_tokens WHERE user_id = ?`, userID).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("feed token of user %d: %w", userID, err)
	}
	return token, nil
}

// NewFeedToken makes a new secret for u's feeds; the old addresses stop
// working at once.
func (s *Store) NewFeedToken(ctx context.Context, userID int64) (string, error) {
	token := strings.ToLower(rand.Text())
	err := s.writeMail(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO feed_tokens (token, user_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET token = excluded.token, created_at = excluded.created_at`,
			token, userID, timestamp(s.now()))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("new feed token for user %d: %w", userID, err)
	}
	return token, nil
}

// FeedUser returns the member a feed secret belongs to. An unknown or
// replaced secret, and one of an account that may no longer book, is
// ErrNotFound: a feed address either works or does not exist.
func (s *Store) FeedUser(ctx context.Context, token string) (*User, error) {
	var id int64
	err := s.reader.QueryRowContext(ctx, `SELECT user_id FROM feed_tokens WHERE token = ?`, token).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("feed: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	u, err := s.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.CanBook() {
		return nil, fmt.Errorf("feed of user %d: %w", id, ErrNotFound)
	}
	return u, nil
}

// FeedBooking is a booking as a calendar feed shows it.
type FeedBooking struct {
	*Booking
	// Sequence counts the changes since it was made (RFC 5545 SEQUENCE):
	// every change writes one history event, so it is their number minus
	// the creation.
	Sequence int
}

// FeedBookings returns the bookings of a calendar feed: those of userID
// (0: everyone's) that end on or after from, and that hold beds or stopped
// holding them (rejected, cancelled) at or after changedSince, so that
// calendars see them cancelled before they go.
func (s *Store) FeedBookings(ctx context.Context, userID int64, from Date, changedSince time.Time) ([]FeedBooking, error) {
	where := `b.departure >= ? AND (b.status IN ('pending', 'accepted') OR b.updated_at >= ?)`
	args := []any{from.String(), timestamp(changedSince)}
	if userID != 0 {
		where += ` AND b.user_id = ?`
		args = append(args, userID)
	}
	bs, err := listBookings(ctx, s.reader, where, `b.arrival`, args...)
	if err != nil {
		return nil, fmt.Errorf("feed bookings: %w", err)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT e.booking_id, count(*) - 1 FROM booking_events e JOIN bookings b ON b.id = e.booking_id
		WHERE `+where+` GROUP BY e.booking_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("feed bookings: %w", err)
	}
	defer rows.Close()
	seq := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("feed bookings: %w", err)
		}
		seq[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("feed bookings: %w", err)
	}
	out := make([]FeedBooking, len(bs))
	for i, b := range bs {
		out[i] = FeedBooking{Booking: b, Sequence: seq[b.ID]}
	}
	return out, nil
}
