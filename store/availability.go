package store

import (
	"context"
	"fmt"
)

// MaxRangeDays bounds availability and calendar queries, so a crafted URL
// cannot make the server count beds for centuries.
const MaxRangeDays = 366

// Availability is the number of free beds per accommodation and night.
type Availability struct {
	From, To       Date // nights [From, To)
	Accommodations []*Accommodation
	// Free[i][n] is the free beds of Accommodations[i] on night From+n. It is
	// negative when an administrator lowered the beds below what is booked.
	Free [][]int
}

// Nights returns the dates of the range.
func (a *Availability) Nights() []Date {
	out := make([]Date, 0, a.To-a.From)
	for d := a.From; d < a.To; d++ {
		out = append(out, d)
	}
	return out
}

// FreeOn returns the free beds of an accommodation on a night, and false if
// either is outside the result.
func (a *Availability) FreeOn(accommodationID int64, night Date) (int, bool) {
	if night < a.From || night >= a.To {
		return 0, false
	}
	for i, acc := range a.Accommodations {
		if acc.ID == accommodationID {
			return a.Free[i][night-a.From], true
		}
	}
	return 0, false
}

// MinFree is the fewest free beds of an accommodation over the whole range:
// what a booking for all of it can get.
func (a *Availability) MinFree(accommodationID int64) (int, bool) {
	for i, acc := range a.Accommodations {
		if acc.ID == accommodationID {
			m := acc.Beds
			for _, f := range a.Free[i] {
				m = min(m, f)
			}
			return m, true
		}
	}
	return 0, false
}

// Availability counts free beds of the active accommodations for the nights
// [from, to). excludeBooking (0 for none) leaves one booking out, so the edit
// form shows what that booking could have.
func (s *Store) Availability(ctx context.Context, from, to Date, excludeBooking int64) (*Availability, error) {
	if to <= from || to-from > MaxRangeDays {
		return nil, fmt.Errorf("availability %s..%s: %w", from, to, ErrInvalid)
	}
	accs, err := s.Accommodations(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	av := &Availability{From: from, To: to, Accommodations: accs, Free: make([][]int, len(accs))}
	index := make(map[int64]int, len(accs))
	nights := int(to - from)
	cells := make([]int, len(accs)*nights) // one allocation for the whole grid
	for i, a := range accs {
		index[a.ID] = i
		av.Free[i] = cells[i*nights : (i+1)*nights : (i+1)*nights]
		for n := range av.Free[i] {
			av.Free[i][n] = a.Beds
		}
	}
	// One range of the primary key per active accommodation.
	rows, err := s.reader.QueryContext(ctx, `SELECT night, accommodation_id, sum(persons) FROM occupancy
		WHERE accommodation_id IN (SELECT id FROM accommodations WHERE active) AND night >= ? AND night < ? AND booking_id <> ?
		GROUP BY accommodation_id, night`, from.String(), to.String(), excludeBooking)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var night string
		var accID int64
		var persons int
		if err := rows.Scan(&night, &accID, &persons); err != nil {
			return nil, fmt.Errorf("availability: %w", err)
		}
		i, ok := index[accID]
		if !ok {
			continue // an inactive accommodation
		}
		d, err := ParseDate(night)
		if err != nil {
			return nil, fmt.Errorf("availability: night %q: %w", night, err)
		}
		av.Free[i][d-from] -= persons
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	return av, nil
}
