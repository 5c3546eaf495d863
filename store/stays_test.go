package store

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// TestStaysOverlapping: the month view's stays come by arrival, then by id,
// each one's items in the house's order (sort order, then name without
// regard to case), only bed-holding ones, only those with a night in range.
func TestStaysOverlapping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mk := func(name string, order int) *Accommodation {
		a, err := f.s.CreateAccommodation(ctx, f.admin, AccommodationInput{Name: name, Kind: "room", Beds: 10, SortOrder: order})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	b, a2, c, first := mk("beta", 1), mk("Alpha", 1), mk("Gamma", 1), mk("zulu", 0)
	late := f.book(t, f.member, 5, 2, Item{AccommodationID: b.ID, Persons: 1})
	many := f.book(t, f.member, 3, 4, Item{AccommodationID: c.ID, Persons: 1}, Item{AccommodationID: b.ID, Persons: 2},
		Item{AccommodationID: first.ID, Persons: 1}, Item{AccommodationID: a2.ID, Persons: 3})
	same := f.book(t, f.admin, 3, 1, Item{AccommodationID: b.ID, Persons: 1})
	gone := f.book(t, f.member, 4, 1, Item{AccommodationID: b.ID, Persons: 1})
	if err := f.s.CancelBooking(ctx, f.member, gone.ID); err != nil {
		t.Fatal(err)
	}
	f.book(t, f.member, 20, 1, Item{AccommodationID: b.ID, Persons: 1}) // after the range
	f.book(t, f.member, 1, 2, Item{AccommodationID: b.ID, Persons: 1})  // leaves on its first day

	got, err := f.s.StaysOverlapping(ctx, today+3, today+10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, st := range got {
		ids = append(ids, st.ID)
	}
	if want := []int64{many.ID, same.ID, late.ID}; !slices.Equal(ids, want) {
		t.Fatalf("stays %v, want %v", ids, want)
	}
	st := got[0]
	if st.Accommodations != "zulu, Alpha, beta, Gamma" || st.Persons != 7 || len(st.Items) != 4 || st.Items[1].Persons != 3 ||
		st.UserName != f.member.Name || !st.Pending || st.Arrival != today+3 || st.Departure != today+7 {
		t.Errorf("stay %+v", st)
	}
}

// TestBookingsChanged: the log names the booking each write changed, and
// refuses to answer across a write of anything else or beyond its memory.
func TestBookingsChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g0 := f.s.Generation()
	b1 := f.book(t, f.member, 3, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	b2 := f.book(t, f.member, 40, 2, Item{AccommodationID: f.tent.ID, Persons: 1})
	if err := f.s.AcceptBooking(ctx, f.admin, b1.ID); err != nil {
		t.Fatal(err)
	}
	g1 := f.s.Generation()
	if ids, ok := f.s.BookingsChanged(g0, g1); !ok || !slices.Equal(ids, []int64{b1.ID, b2.ID, b1.ID}) {
		t.Errorf("changed since %d: %v %v", g0, ids, ok)
	}
	if ids, ok := f.s.BookingsChanged(g1, g1); !ok || len(ids) != 0 {
		t.Errorf("nothing changed: %v %v", ids, ok)
	}
	if _, ok := f.s.BookingsChanged(g1, g0); ok {
		t.Errorf("a range backwards was answered")
	}
	if _, ok := f.s.BookingsChanged(g0, g1+1); ok {
		t.Errorf("the future was answered")
	}
	// Stays has them as they are now.
	if err := f.s.CancelBooking(ctx, f.member, b2.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.Stays(ctx, []int64{b2.ID, b1.ID, b1.ID})
	if err != nil || len(got) != 1 || got[0].ID != b1.ID || got[0].Pending || got[0].Accommodations != f.room.Name {
		t.Errorf("stays %+v %v", got, err)
	}
	// Anything else changed: everything before is void.
	g2 := f.s.Generation()
	if err := f.s.SetAccommodationActive(ctx, f.admin, f.tent.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.s.BookingsChanged(g2, f.s.Generation()); ok {
		t.Errorf("a change of an accommodation passed for bookings only")
	}
	if _, ok := f.s.BookingsChanged(g0, g2); !ok {
		t.Errorf("the changes before it were forgotten")
	}
	// Beyond its memory.
	g3 := f.s.Generation()
	for range 64 {
		if _, err := f.s.UpdateBooking(ctx, f.member, b1.ID, BookingInput{Arrival: b1.Arrival, Departure: b1.Departure, Items: b1.Items, Notes: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, ok := f.s.BookingsChanged(g3, f.s.Generation()); !ok || len(ids) != 64 {
		t.Errorf("64 changes: %d %v", len(ids), ok)
	}
	if _, ok := f.s.BookingsChanged(g3-1, f.s.Generation()); ok {
		t.Errorf("65 changes were answered from a log of 64")
	}
}

// TestBookingsChangedGrouped: bookings committed together are all named.
func TestBookingsChangedGrouped(t *testing.T) {
	f := newFixture(t)
	f.setLimits(t, 18, 0)
	big := f.accommodation(t, "Saal", "room", 100)
	g0 := f.s.Generation()
	var wg sync.WaitGroup
	ids := make([]int64, 20)
	for i := range ids {
		wg.Go(func() {
			b, err := f.s.CreateBooking(context.Background(), f.member, BookingInput{Arrival: today + Date(1+i), Departure: today + Date(2+i),
				Items: []Item{{AccommodationID: big.ID, Persons: 1}}})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = b.ID
		})
	}
	wg.Wait()
	got, ok := f.s.BookingsChanged(g0, f.s.Generation())
	slices.Sort(got)
	slices.Sort(ids)
	if !ok || !slices.Equal(got, ids) {
		t.Errorf("changed %v %v, want %v (generation %d → %d)", got, ok, ids, g0, f.s.Generation())
	}
}
