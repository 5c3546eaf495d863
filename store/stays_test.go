package store

import (
	"context"
	"slices"
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
