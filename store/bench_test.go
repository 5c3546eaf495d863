package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCreateBooking measures one booking commit (rules, capacity check,
// booking, items, history event) with synchronous=FULL. Each stay is one
// night in a fresh 100-bed accommodation's future, so capacity never runs
// out and the per-night check still reads the nights' bookings.
func BenchmarkCreateBooking(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	accs := make([]*Accommodation, 8)
	for i := range accs {
		accs[i] = f.accommodation(b, fmt.Sprintf("Raum %d", i), "room", 100)
	}
	f.setLimits(b, 18, 0) // one member books thousands of stays
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		arr := today + Date(i%300)
		_, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: arr, Departure: arr + 2,
			Items: []Item{{AccommodationID: accs[i%8].ID, Persons: 1}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMonthAvailability counts the free beds of 6 accommodations for a
// 31-night month holding 60 bookings.
func BenchmarkMonthAvailability(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	accs := []*Accommodation{f.room, f.tent}
	for i := range 4 {
		accs = append(accs, f.accommodation(b, fmt.Sprintf("Raum %d", i), "room", 20))
	}
	for i := range 60 {
		a := accs[2+i%4]
		f.book(b, f.member, i%28, 1+i%3, Item{AccommodationID: a.ID, Persons: 1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.s.Availability(ctx, today, today+31, 0); err != nil {
			b.Fatal(err)
		}
	}
}
