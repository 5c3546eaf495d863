package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Kinds of accommodation.
var AccommodationKinds = []string{"room", "tent", "camper", "other"}

// Limits for an accommodation's beds.
const (
	MinBeds = 1
	MaxBeds = 100
)

// Accommodation is a place to sleep: a room, a tent, a camper.
type Accommodation struct {
	ID          int64
	Name        string
	Kind        string
	Beds        int
	Active      bool
	SortOrder   int
	Description string
}

// AccommodationInput creates or edits an accommodation.
type AccommodationInput struct {
	Name        string
	Kind        string
	Beds        int
	SortOrder   int
	Description string
}

func (in *AccommodationInput) validate() error {
	var ps problems
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	if in.Name == "" {
		ps.add("name", KeyRequired)
	} else if !plainText(in.Name, false) {
		ps.add("name", KeyBadCharacters)
	} else if len([]rune(in.Name)) > 60 {
		ps.add("name", KeyTooLong, 60)
	}
	known := false
	for _, k := range AccommodationKinds {
		known = known || k == in.Kind
	}
	if !known {
		ps.add("kind", KeyBadKind)
	}
	if in.Beds < MinBeds || in.Beds > MaxBeds {
		ps.add("beds", KeyBedsRange, MinBeds, MaxBeds)
	}
	if !plainText(in.Description, true) {
		ps.add("description", KeyBadCharacters)
	} else if len([]rune(in.Description)) > 500 {
		ps.add("description", KeyTooLong, 500)
	}
	return ps.err()
}

const accommodationColumns = `id, name, kind, beds, active, sort_order, description`

func scanAccommodation(row interface{ Scan(...any) error }) (*Accommodation, error) {
	var a Accommodation
	err := row.Scan(&a.ID, &a.Name, &a.Kind, &a.Beds, &a.Active, &a.SortOrder, &a.Description)
	return &a, err
}

// CreateAccommodation adds an accommodation. Administrators only.
func (s *Store) CreateAccommodation(ctx context.Context, actor *User, in AccommodationInput) (*Accommodation, error) {
	if !actor.IsAdmin() {
		return nil, fmt.Errorf("create accommodation: %w", ErrForbidden)
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := timestamp(s.now())
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO accommodations (name, kind, beds, sort_order, description, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, in.Name, in.Kind, in.Beds, in.SortOrder, in.Description, now, now).Scan(&id)
	})
	if isUniqueViolation(err) {
		return nil, &ValidationError{Problems: []Problem{{Field: "name", Key: KeyNameTaken}}}
	}
	if err != nil {
		return nil, fmt.Errorf("create accommodation: %w", err)
	}
	return s.Accommodation(ctx, id)
}

// UpdateAccommodation edits an accommodation. Fewer beds than are booked on
// some future night is allowed: the administrator may have a reason (a
// broken bed), and existing bookings stay; new ones see the smaller number.
func (s *Store) UpdateAccommodation(ctx context.Context, actor *User, id int64, in AccommodationInput) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("update accommodation: %w", ErrForbidden)
	}
	if err := in.validate(); err != nil {
		return err
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accommodations SET name = ?, kind = ?, beds = ?, sort_order = ?, description = ?, updated_at = ?
			WHERE id = ?`, in.Name, in.Kind, in.Beds, in.SortOrder, in.Description, timestamp(s.now()), id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if isUniqueViolation(err) {
		return &ValidationError{Problems: []Problem{{Field: "name", Key: KeyNameTaken}}}
	}
	if err != nil {
		return fmt.Errorf("update accommodation %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update accommodation %d: %w", id, ErrNotFound)
	}
	return nil
}

// SetAccommodationActive deactivates or reactivates an accommodation.
// Accommodations are never deleted: old bookings keep pointing at them.
func (s *Store) SetAccommodationActive(ctx context.Context, actor *User, id int64, active bool) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("set accommodation active: %w", ErrForbidden)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accommodations SET active = ?, updated_at = ? WHERE id = ?`, active, timestamp(s.now()), id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("set accommodation %d active: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("set accommodation %d active: %w", id, ErrNotFound)
	}
	return nil
}

// Accommodation returns one accommodation.
func (s *Store) Accommodation(ctx context.Context, id int64) (*Accommodation, error) {
	a, err := scanAccommodation(s.reader.QueryRowContext(ctx, `SELECT `+accommodationColumns+` FROM accommodations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("accommodation %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("accommodation %d: %w", id, err)
	}
	return a, nil
}

// Accommodations lists accommodations in their display order; inactive ones
// only when asked.
func (s *Store) Accommodations(ctx context.Context, includeInactive bool) ([]*Accommodation, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+accommodationColumns+` FROM accommodations
		WHERE active OR ? ORDER BY sort_order, name COLLATE NOCASE, id`, includeInactive)
	if err != nil {
		return nil, fmt.Errorf("accommodations: %w", err)
	}
	defer rows.Close()
	var as []*Accommodation
	for rows.Next() {
		a, err := scanAccommodation(rows)
		if err != nil {
			return nil, fmt.Errorf("accommodations: %w", err)
		}
		as = append(as, a)
	}
	return as, rows.Err()
}
