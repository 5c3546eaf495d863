package handlers

import (
	"testing"
	"time"

	"booking/store"
)

// TestMonthAgenda: the phone's month lists the stays that touch the month
// in the order of arrival, with the free stretches of the month's nights
// between them; a free stretch can be booked from today on.
func TestMonthAgenda(t *testing.T) {
	aug := func(day int) store.Date { return store.MakeDate(2026, time.August, day) }
	first, next, today := aug(1), store.MakeDate(2026, time.September, 1), aug(5)
	stay := func(id int64, from, to store.Date) store.Stay {
		return store.Stay{ID: id, UserName: "M", Arrival: from, Departure: to}
	}
	bs := []store.Stay{
		stay(1, store.MakeDate(2026, time.July, 28), aug(3)), // from July
		stay(2, aug(10), aug(12)),
		stay(3, aug(11), aug(14)), // overlaps 2
		stay(4, aug(28), store.MakeDate(2026, time.September, 4)),
		stay(5, store.MakeDate(2026, time.September, 2), store.MakeDate(2026, time.September, 5)), // next month only
	}
	type line struct {
		stay               int64
		from, to, bookFrom store.Date
	}
	var got []line
	for _, it := range monthAgenda(bs, first, next, today) {
		if it.Stay != nil {
			got = append(got, line{stay: it.Stay.ID})
		} else {
			got = append(got, line{from: it.From, to: it.To, bookFrom: it.BookFrom})
		}
	}
	want := []line{
		{stay: 1},
		{from: aug(3), to: aug(10), bookFrom: aug(5)}, // partly past: book from today
		{stay: 2},
		{stay: 3},
		{from: aug(14), to: aug(28), bookFrom: aug(14)},
		{stay: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("agenda %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// A past stretch offers no booking; an empty month is one free stretch.
	past := monthAgenda(nil, first, next, store.MakeDate(2026, time.October, 1))
	if len(past) != 1 || past[0].From != first || past[0].To != next || past[0].BookFrom != 0 || past[0].Nights() != 31 {
		t.Errorf("an empty past month: %+v", past)
	}
}

// TestBookingFormSummary: the error summary follows the form's order and
// leads each problem to its field.
func TestBookingFormSummary(t *testing.T) {
	p := &bookingFormPage{
		Choices: []choice{{Acc: &store.Accommodation{ID: 7}}, {Acc: &store.Accommodation{ID: 3}}},
		Errors: fieldErrors{"notes": "n", "items.3": "three", "departure": "d", "items.7": "seven",
			"items": "none", "items.99": "gone", "arrival": "a"},
	}
	var got []fieldError
	got = append(got, p.Summary()...)
	want := []fieldError{{"arrival", "a"}, {"departure", "d"}, {"where", "none"}, {"persons-7", "seven"},
		{"persons-3", "three"}, {"notes", "n"}, {"where", "gone"}}
	if len(got) != len(want) {
		t.Fatalf("summary %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %v, want %v", i, got[i], want[i])
		}
	}
}
