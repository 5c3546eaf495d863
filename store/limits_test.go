package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// setLimits changes the horizon and the pending cap.
func (f *fixture) setLimits(t testing.TB, horizonMonths, maxPending int) {
	t.Helper()
	in := f.s.Settings().Input()
	in.HorizonMonths, in.MaxPendingBedNights = horizonMonths, maxPending
	if err := f.s.UpdateSettings(context.Background(), f.admin, in); err != nil {
		t.Fatal(err)
	}
}

// TestBookingHorizon: a stay begins at most HorizonMonths (18 by default)
// ahead; year 9999 is refused.
func TestBookingHorizon(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	last := MakeDate(2028, 2, 1) // 18 months after 2026-08-01
	if got := f.s.LastArrival(); got != last {
		t.Fatalf("last arrival %s, want %s", got, last)
	}
	tent := func(arr Date) BookingInput {
		return BookingInput{Arrival: arr, Departure: arr + 2, Items: []Item{{AccommodationID: f.tent.ID, Persons: 1}}}
	}
	b, err := f.s.CreateBooking(ctx, f.member, tent(last))
	if err != nil {
		t.Fatalf("on the last day: %v", err)
	}
	far, _ := ParseDate("9999-11-01")
	for _, arr := range []Date{last + 1, far} {
		_, err := f.s.CreateBooking(ctx, f.member, tent(arr))
		wantProblem(t, err, "arrival", KeyBeyondHorizon)
		// An administrator too: the limit is the house's, and a setting.
		_, err = f.s.CreateBooking(ctx, f.admin, tent(arr))
		wantProblem(t, err, "arrival", KeyBeyondHorizon)
	}
	// A shorter horizon later: the booking keeps its arrival, and may be
	// changed otherwise, but not moved further out.
	f.setLimits(t, 6, 120)
	if _, err := f.s.UpdateBooking(ctx, f.member, b.ID, BookingInput{Arrival: last, Departure: last + 1,
		Items: []Item{{AccommodationID: f.tent.ID, Persons: 1}}}); err != nil {
		t.Errorf("edit keeping an arrival beyond the new horizon: %v", err)
	}
	_, err = f.s.UpdateBooking(ctx, f.member, b.ID, tent(last+1))
	wantProblem(t, err, "arrival", KeyBeyondHorizon)
}

// TestPendingCap: what one member has waiting for a decision is bounded
// (120 bed-nights by default), so three 30-night requests cannot take
// every bed; accepted bookings do not count, nor do administrators.
func TestPendingCap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stay := func(arr Date, nights, persons int) BookingInput {
		return BookingInput{Arrival: arr, Departure: arr + Date(nights), Items: []Item{{AccommodationID: f.tent.ID, Persons: persons}}}
	}
	// A family of four for a month: exactly the default.
	month, err := f.s.CreateBooking(ctx, f.member, stay(today+1, 30, 4))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.CreateBooking(ctx, f.member, stay(today+40, 30, 1))
	wantProblem(t, err, "items", KeyPendingCap)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%v", err)
	}
	if p, _ := ve.Field("items"); len(p.Args) != 2 || p.Args[0] != 150 || p.Args[1] != 120 {
		t.Errorf("args %v, want [150 120]", p.Args)
	}
	// Another member is not affected; an administrator is not limited.
	other := f.user(t, "ben@example.org", RoleMember)
	if _, err := f.s.CreateBooking(ctx, other, stay(today+40, 30, 1)); err != nil {
		t.Errorf("another member: %v", err)
	}
	if _, err := f.s.CreateBooking(ctx, f.admin, stay(today+80, 30, 4)); err != nil {
		t.Errorf("administrator: %v", err)
	}
	// Accepted, it no longer waits: room for more.
	if err := f.s.AcceptBooking(ctx, f.admin, month.ID); err != nil {
		t.Fatal(err)
	}
	next, err := f.s.CreateBooking(ctx, f.member, stay(today+120, 30, 2))
	if err != nil {
		t.Fatalf("after the acceptance: %v", err)
	}
	// A lower limit later: a pending booking may shrink, not grow.
	f.setLimits(t, 18, 10)
	if _, err := f.s.UpdateBooking(ctx, f.member, next.ID, stay(today+120, 20, 2)); err != nil {
		t.Errorf("shrinking over the limit: %v", err)
	}
	_, err = f.s.UpdateBooking(ctx, f.member, next.ID, stay(today+120, 21, 2))
	wantProblem(t, err, "items", KeyPendingCap)
	// An edit of the accepted month puts it back to pending: counted.
	_, err = f.s.UpdateBooking(ctx, f.member, month.ID, stay(today+1, 29, 4))
	wantProblem(t, err, "items", KeyPendingCap)
	// 0 turns the limit off.
	f.setLimits(t, 18, 0)
	if _, err := f.s.CreateBooking(ctx, f.member, stay(today+200, 30, 4)); err != nil {
		t.Errorf("without a limit: %v", err)
	}
}

// TestPendingCapRace: the limit is checked in the write transaction, so a
// member's parallel requests cannot get past it together.
func TestPendingCapRace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	barn := f.accommodation(t, "Scheune", "other", 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 12 {
		wg.Go(func() {
			arr := today + Date(1+i*10)
			_, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: arr, Departure: arr + 10,
				Items: []Item{{AccommodationID: barn.ID, Persons: 2}}}) // 20 bed-nights
			mu.Lock()
			defer mu.Unlock()
			var ve *ValidationError
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &ve):
				t.Errorf("refused: %v", err)
			default:
				if p, found := ve.Field("items"); !found || p.Key != KeyPendingCap {
					t.Errorf("refused for another reason: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if ok != 6 {
		t.Errorf("%d of 12 requests of 20 bed-nights got through, want 6 (120)", ok)
	}
}
