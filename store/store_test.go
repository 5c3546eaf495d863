package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock shared with the store under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// fixture is a store with an admin, a member and two accommodations, on a
// fixed "today" of 2026-08-01 in Berlin.
type fixture struct {
	s      *Store
	clock  *testClock
	admin  *User
	member *User
	room   *Accommodation // 2 beds
	tent   *Accommodation // 4 beds
}

var today = MakeDate(2026, time.August, 1)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 8, 1, 10, 0, 0, 0, berlin)}
	s, err := Open(ctx, filepath.Join(t.TempDir(), "test.db"), Options{Now: clock.Now, TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{s: s, clock: clock}
	f.admin = f.user(t, "admin@example.org", RoleAdmin)
	f.member = f.user(t, "anna@example.org", RoleMember)
	f.room = f.accommodation(t, "Zimmer 1", "room", 2)
	f.tent = f.accommodation(t, "Zelt", "tent", 4)
	return f
}

func (f *fixture) user(t testing.TB, email, role string) *User {
	t.Helper()
	// No password: hashing is slow on purpose and most tests need none.
	u, err := f.s.CreateUser(context.Background(), NewUser{Email: email, Name: email[:4], Role: role, State: StateApproved})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) accommodation(t testing.TB, name, kind string, beds int) *Accommodation {
	t.Helper()
	a, err := f.s.CreateAccommodation(context.Background(), f.admin, AccommodationInput{Name: name, Kind: kind, Beds: beds})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) book(t testing.TB, u *User, arrival, nights int, items ...Item) *Booking {
	t.Helper()
	b, err := f.s.CreateBooking(context.Background(), u, BookingInput{Arrival: today + Date(arrival), Departure: today + Date(arrival+nights), Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantProblem(t *testing.T, err error, field, key string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error for %s (%s), got %v", field, key, err)
	}
	p, ok := ve.Field(field)
	if !ok || p.Key != key {
		t.Fatalf("want problem %s on %s, got %v", key, field, ve)
	}
}

func TestDate(t *testing.T) {
	d, err := ParseDate("2026-03-29") // the night Europe switches to summer time
	if err != nil {
		t.Fatal(err)
	}
	if got := d.AddDays(1).String(); got != "2026-03-30" {
		t.Errorf("AddDays: %s", got)
	}
	if got := d.FirstOfMonth().AddMonths(-3).String(); got != "2025-12-01" {
		t.Errorf("AddMonths: %s", got)
	}
	for _, bad := range []string{"", "2026-02-30", "26-01-01", "2026-1-1", "tomorrow"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	// "Today" follows the house's zone, not UTC: 23:30 UTC on July 31 is
	// already August 1 in Berlin.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if got := DateOf(time.Date(2026, 7, 31, 23, 30, 0, 0, time.UTC).In(berlin)); got != today {
		t.Errorf("DateOf in Berlin: %s", got)
	}
}

func TestBookingRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inactive := f.accommodation(t, "Wohnwagen", "camper", 2)
	if err := f.s.SetAccommodationActive(ctx, f.admin, inactive.ID, false); err != nil {
		t.Fatal(err)
	}
	room := func(p int) Item { return Item{AccommodationID: f.room.ID, Persons: p} }
	long := make([]byte, 501)
	for i := range long {
		long[i] = 'x'
	}
	tests := []struct {
		name         string
		in           BookingInput
		field, key   string
		wantCapacity bool
	}{
		{"arrival in the past", BookingInput{Arrival: today - 1, Departure: today + 1, Items: []Item{room(1)}}, "arrival", KeyArrivalPast, false},
		{"zero nights", BookingInput{Arrival: today, Departure: today, Items: []Item{room(1)}}, "departure", KeyDepartureBefore, false},
		{"departure before arrival", BookingInput{Arrival: today + 3, Departure: today + 1, Items: []Item{room(1)}}, "departure", KeyDepartureBefore, false},
		{"31 nights", BookingInput{Arrival: today, Departure: today + 31, Items: []Item{room(1)}}, "departure", KeyTooManyNights, false},
		{"no items", BookingInput{Arrival: today, Departure: today + 1}, "items", KeyNoItems, false},
		{"zero persons", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{room(0)}}, "items.1", KeyPersonsRange, false},
		{"21 persons", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{{AccommodationID: f.tent.ID, Persons: 21}}}, "items.2", KeyPersonsRange, false},
		{"same accommodation twice", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{room(1), room(1)}}, "items.1", KeyDuplicateItem, false},
		{"unknown accommodation", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{{AccommodationID: 999, Persons: 1}}}, "items.999", KeyUnknownAcc, false},
		{"inactive accommodation", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{{AccommodationID: inactive.ID, Persons: 1}}}, "items.3", KeyInactiveAcc, false},
		{"notes too long", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{room(1)}, Notes: string(long)}, "notes", KeyTooLong, false},
		{"more persons than beds", BookingInput{Arrival: today, Departure: today + 1, Items: []Item{room(3)}}, "items.1", KeyNoCapacity, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.s.CreateBooking(ctx, f.member, tc.in)
			wantProblem(t, err, tc.field, tc.key)
			if got := errors.Is(err, ErrNoCapacity); got != tc.wantCapacity {
				t.Errorf("errors.Is(ErrNoCapacity) = %v", got)
			}
		})
	}
	// The edges that are allowed: today, exactly 30 nights, 20 persons,
	// 500 characters of notes.
	if _, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: today, Departure: today + 30,
		Items: []Item{{AccommodationID: f.tent.ID, Persons: 4}}, Notes: string(long[:500])}); err != nil {
		t.Errorf("30 nights from today: %v", err)
	}
	big := f.accommodation(t, "Scheune", "other", 20)
	// Another member: the 30 nights above are all the member may have pending.
	if _, err := f.s.CreateBooking(ctx, f.user(t, "ben@example.org", RoleMember), BookingInput{Arrival: today, Departure: today + 1,
		Items: []Item{{AccommodationID: big.ID, Persons: 20}}}); err != nil {
		t.Errorf("20 persons: %v", err)
	}
}

func TestOnlyApprovedMembersBook(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	waiting, err := f.s.CreateUser(ctx, NewUser{Email: "new@example.org", Name: "New", Role: RoleMember, State: StateRegistered})
	if err != nil {
		t.Fatal(err)
	}
	in := BookingInput{Arrival: today, Departure: today + 1, Items: []Item{{AccommodationID: f.room.ID, Persons: 1}}}
	if _, err := f.s.CreateBooking(ctx, waiting, in); !errors.Is(err, ErrForbidden) {
		t.Errorf("registered user booked: %v", err)
	}
	// A session loaded before the admin disabled the account must not book.
	stale := *f.member
	if err := f.s.SetUserState(ctx, f.admin, f.member.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CreateBooking(ctx, &stale, in); !errors.Is(err, ErrForbidden) {
		t.Errorf("disabled user booked: %v", err)
	}
}

func TestCapacityIsPerNight(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// In the 2-bed room: one person on nights 2-3, one on nights 5-6. A third
	// person for nights 2..6 meets at most one of them on any night, so it
	// fits. (The original system summed all overlapping bookings, 3 > 2, and
	// refused it.)
	f.book(t, f.member, 2, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	f.book(t, f.member, 5, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	f.book(t, f.member, 2, 5, Item{AccommodationID: f.room.ID, Persons: 1})
	// Filling the last bed of night 4 makes it the night a refusal names.
	f.book(t, f.member, 4, 1, Item{AccommodationID: f.room.ID, Persons: 1})
	_, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: today + 4, Departure: today + 6,
		Items: []Item{{AccommodationID: f.room.ID, Persons: 1}}})
	wantProblem(t, err, "items.1", KeyNoCapacity)
	var ve *ValidationError
	errors.As(err, &ve)
	if p := ve.Problems[0]; p.Args[0] != "Zimmer 1" || p.Args[1] != 0 || p.Args[2] != today+4 {
		t.Errorf("capacity problem names the wrong night: %v", p.Args)
	}
	if got := ve.Error(); got != "invalid: items.1: Zimmer 1 has only 0 free beds on 2026-08-05" {
		t.Errorf("message: %s", got)
	}
}

func TestStatusMachineAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := f.user(t, "ben@example.org", RoleMember)
	b := f.book(t, f.member, 1, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	if b.Status != StatusPending {
		t.Fatalf("new booking is %s", b.Status)
	}
	// Members cannot decide, not even on their own booking.
	if err := f.s.AcceptBooking(ctx, f.member, b.ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("member accepted: %v", err)
	}
	// Someone else's booking is visible to the family but not changeable.
	if seen, err := f.s.Booking(ctx, other, b.ID); err != nil || seen.MayChange(other) || !seen.MayChange(f.member) {
		t.Errorf("other member's view: %v", err)
	}
	if err := f.s.CancelBooking(ctx, other, b.ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("other member cancelled: %v", err)
	}
	if err := f.s.RejectBooking(ctx, f.admin, b.ID, "  "); !errors.Is(err, ErrInvalid) {
		t.Errorf("reject without reason: %v", err)
	}
	if err := f.s.AcceptBooking(ctx, f.admin, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AcceptBooking(ctx, f.admin, b.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("accept twice: %v", err)
	}
	// Only the notes: stays accepted.
	in := BookingInput{Arrival: b.Arrival, Departure: b.Departure, Items: b.Items, Notes: "Wir bringen Kuchen mit"}
	b2, err := f.s.UpdateBooking(ctx, f.member, b.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Status != StatusAccepted {
		t.Errorf("notes edit changed status to %s", b2.Status)
	}
	// The dates: back to pending.
	in.Departure++
	b3, err := f.s.UpdateBooking(ctx, f.member, b.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if b3.Status != StatusPending || b3.Nights() != 3 {
		t.Errorf("date edit: status %s, %d nights", b3.Status, b3.Nights())
	}
	// The same input again changes nothing and writes no event.
	if _, err := f.s.UpdateBooking(ctx, f.member, b.ID, in); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RejectBooking(ctx, f.admin, b.ID, "Das Haus wird gestrichen"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CancelBooking(ctx, f.member, b.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("cancel a rejected booking: %v", err)
	}
	if _, err := f.s.UpdateBooking(ctx, f.member, b.ID, in); !errors.Is(err, ErrConflict) {
		t.Errorf("edit a rejected booking: %v", err)
	}
	evs, err := f.s.Events(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"created", "accepted", "edited", "edited", "rejected"}
	if len(kinds) != len(want) {
		t.Fatalf("history %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("history %v, want %v", kinds, want)
		}
	}
	if e := evs[3]; e.Before.Departure != today+3 || e.After.Departure != today+4 || e.ActorName != "anna" {
		t.Errorf("edit event: %+v %+v by %s", e.Before, e.After, e.ActorName)
	}
	if evs[4].Reason != "Das Haus wird gestrichen" || evs[4].ActorID != f.admin.ID {
		t.Errorf("reject event: %+v", evs[4])
	}

	// Cancel frees the beds.
	c := f.book(t, f.member, 10, 1, Item{AccommodationID: f.room.ID, Persons: 2})
	if err := f.s.CancelBooking(ctx, f.member, c.ID); err != nil {
		t.Fatal(err)
	}
	f.book(t, other, 10, 1, Item{AccommodationID: f.room.ID, Persons: 2})
}

func TestEditKeepsOwnBedsAndStartedStays(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := f.book(t, f.member, 0, 3, Item{AccommodationID: f.room.ID, Persons: 2})
	// Moving one day later overlaps the booking's own nights: its own beds
	// must not count against it.
	f.clock.Set(f.clock.Now().Add(24 * time.Hour)) // the stay has begun
	b2, err := f.s.UpdateBooking(ctx, f.member, b.ID, BookingInput{Arrival: b.Arrival, Departure: b.Departure + 1, Items: b.Items})
	if err != nil {
		t.Fatalf("extending a started stay: %v", err)
	}
	if b2.Nights() != 4 {
		t.Errorf("nights %d", b2.Nights())
	}
	// Moving its arrival into the past is not allowed.
	_, err = f.s.UpdateBooking(ctx, f.member, b.ID, BookingInput{Arrival: b.Arrival - 1, Departure: b.Departure, Items: b.Items})
	wantProblem(t, err, "arrival", KeyArrivalPast)
}

func TestListsAndAvailability(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	past := f.book(t, f.member, 0, 2, Item{AccommodationID: f.tent.ID, Persons: 3})
	up := f.book(t, f.member, 5, 2, Item{AccommodationID: f.room.ID, Persons: 1}, Item{AccommodationID: f.tent.ID, Persons: 1})
	f.clock.Set(f.clock.Now().Add(3 * 24 * time.Hour))

	upcoming, err := f.s.Bookings(ctx, BookingFilter{UserID: f.member.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(upcoming) != 1 || upcoming[0].ID != up.ID || len(upcoming[0].Items) != 2 || upcoming[0].Persons() != 2 {
		t.Errorf("upcoming: %+v", upcoming)
	}
	pastList, _ := f.s.Bookings(ctx, BookingFilter{UserID: f.member.ID, When: WhenPast})
	if len(pastList) != 1 || pastList[0].ID != past.ID {
		t.Errorf("past: %+v", pastList)
	}
	pending, _ := f.s.Bookings(ctx, BookingFilter{When: WhenAll, Status: StatusPending})
	if len(pending) != 2 {
		t.Errorf("pending: %d", len(pending))
	}
	if _, err := f.s.Bookings(ctx, BookingFilter{Status: "bogus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bogus status: %v", err)
	}

	av, err := f.s.Availability(ctx, today, today+8, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantTent := []int{1, 1, 4, 4, 4, 3, 3, 4}
	for n, w := range wantTent {
		if got, _ := av.FreeOn(f.tent.ID, today+Date(n)); got != w {
			t.Errorf("tent free on night %d: %d, want %d", n, got, w)
		}
	}
	if m, _ := av.MinFree(f.room.ID); m != 1 {
		t.Errorf("room min free %d", m)
	}
	// Excluding a booking gives its beds back, as the edit form needs.
	av2, _ := f.s.Availability(ctx, today, today+8, up.ID)
	if m, _ := av2.MinFree(f.room.ID); m != 2 {
		t.Errorf("room min free without the booking %d", m)
	}
	cal, err := f.s.BookingsOverlapping(ctx, today+6, today+30)
	if err != nil || len(cal) != 1 || cal[0].UserName != "anna" {
		t.Errorf("calendar: %v %+v", err, cal)
	}
	if _, err := f.s.Availability(ctx, today, today+400, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge range: %v", err)
	}
	counts, _ := f.s.CountBookingsByStatus(ctx)
	if counts[StatusPending] != 2 || counts[StatusCancelled] != 0 {
		t.Errorf("counts %v", counts)
	}
}

func TestUsersAndPasswords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.s.CreateUser(ctx, NewUser{Email: "Oma@Example.org", Name: "Oma", Role: RoleMember, State: StateApproved, Password: "Apfelkuchen!"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(ctx, "oma@example.org", "Apfelkuchen!"); err != nil {
		t.Errorf("login with other case: %v", err)
	}
	if _, err := f.s.Authenticate(ctx, "oma@example.org", "apfelkuchen!"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := f.s.Authenticate(ctx, "nobody@example.org", "x"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown email: %v", err)
	}
	_, err = f.s.CreateUser(ctx, NewUser{Email: "oma@example.org", Name: "Oma 2", Role: RoleMember, State: StateApproved})
	wantProblem(t, err, "email", KeyEmailTaken)
	_, err = f.s.CreateUser(ctx, NewUser{Email: "not an email", Name: "", Role: "king", State: StateApproved, Password: "short"})
	wantProblem(t, err, "email", KeyBadEmail)
	wantProblem(t, err, "name", KeyRequired)
	wantProblem(t, err, "role", KeyBadRole)
	wantProblem(t, err, "password", KeyPasswordShort)
	if err := f.s.SetUserState(ctx, f.admin, u.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(ctx, "oma@example.org", "Apfelkuchen!"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("disabled user logged in: %v", err)
	}
	if err := f.s.SetUserState(ctx, f.admin, f.admin.ID, StateDisabled); !errors.Is(err, ErrConflict) {
		t.Errorf("admin disabled themselves: %v", err)
	}
	if err := f.s.SetUserRole(ctx, f.member, u.ID, RoleAdmin); !errors.Is(err, ErrForbidden) {
		t.Errorf("member promoted someone: %v", err)
	}
}

func TestSettings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	err := f.s.UpdateSettings(ctx, f.admin, SettingsInput{HouseName: "", TimeZone: "Mars/Olympus", MaxNights: 0})
	wantProblem(t, err, "house_name", KeyRequired)
	wantProblem(t, err, "time_zone", KeyBadTimeZone)
	wantProblem(t, err, "max_nights", KeyMaxNightsRange)
	if err := f.s.UpdateSettings(ctx, f.member, SettingsInput{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("member changed settings: %v", err)
	}
	in := f.s.Settings().Input()
	in.HouseName, in.TimeZone, in.MaxNights = "Laube", "America/New_York", 3
	if err := f.s.UpdateSettings(ctx, f.admin, in); err != nil {
		t.Fatal(err)
	}
	// 10:00 in Berlin is 04:00 in New York: still August 1.
	if f.s.Today() != today {
		t.Errorf("today in New York: %s", f.s.Today())
	}
	_, err = f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: today, Departure: today + 4, Items: []Item{{AccommodationID: f.room.ID, Persons: 1}}})
	wantProblem(t, err, "departure", KeyTooManyNights)
	// Settings survive a reopen.
	path := f.s.Path()
	f.s.Close()
	s2, err := Open(ctx, path, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st := s2.Settings(); st.HouseName != "Laube" || st.MaxNights != 3 || st.Location().String() != "America/New_York" {
		t.Errorf("after reopen: %+v", st)
	}
}

func TestEditWithReorderedItemsIsNoChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := f.book(t, f.member, 1, 2, Item{AccommodationID: f.tent.ID, Persons: 1}, Item{AccommodationID: f.room.ID, Persons: 1})
	if err := f.s.AcceptBooking(ctx, f.admin, b.ID); err != nil {
		t.Fatal(err)
	}
	in := BookingInput{Arrival: b.Arrival, Departure: b.Departure,
		Items: []Item{{AccommodationID: f.room.ID, Persons: 1}, {AccommodationID: f.tent.ID, Persons: 1}}}
	in.Items[0], in.Items[1] = in.Items[1], in.Items[0]
	b2, err := f.s.UpdateBooking(ctx, f.member, b.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Status != StatusAccepted {
		t.Errorf("the same items in another order sent the booking back to %s", b2.Status)
	}
	evs, _ := f.s.Events(ctx, b.ID)
	if len(evs) != 2 {
		t.Errorf("%d events, want created+accepted only", len(evs))
	}
}

// TestOccupancyMigrationBackfills: a database from before the occupancy
// table gets one row per night of every bed-holding booking, so the free
// beds are the same after the upgrade.
func TestOccupancyMigrationBackfills(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.book(t, f.member, 1, 3, Item{AccommodationID: f.room.ID, Persons: 2}, Item{AccommodationID: f.tent.ID, Persons: 1})
	f.book(t, f.member, 2, 30, Item{AccommodationID: f.tent.ID, Persons: 3})
	gone := f.book(t, f.member, 5, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	if err := f.s.CancelBooking(ctx, f.member, gone.ID); err != nil {
		t.Fatal(err)
	}
	before, err := f.s.Availability(ctx, today, today+40, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Turn the database back into schema version 1 (undoing 0003 too).
	if _, err := f.s.writer.ExecContext(ctx, `DROP TABLE occupancy; DROP INDEX sessions_user;
		ALTER TABLE sessions DROP COLUMN user_id; ALTER TABLE sessions DROP COLUMN revoked; PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	path := f.s.Path()
	f.s.Close()
	s2, err := Open(ctx, path, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	after, err := s2.Availability(ctx, today, today+40, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	s2.reader.QueryRowContext(ctx, `SELECT count(*) FROM occupancy`).Scan(&rows)
	if rows != 3*2+30 {
		t.Errorf("%d occupancy rows, want 36 (3 nights x 2 items + 30 nights)", rows)
	}
	for i := range before.Free {
		for n := range before.Free[i] {
			if before.Free[i][n] != after.Free[i][n] {
				t.Fatalf("%s night %d: %d free before the upgrade, %d after", before.Accommodations[i].Name, n, before.Free[i][n], after.Free[i][n])
			}
		}
	}
}

// TestRefusesANewerSchema is the older binary after an upgrade went wrong:
// it must not run on what a newer version migrated, and it says both
// versions.
func TestRefusesANewerSchema(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	newer := SchemaVersion() + 1
	if _, err := f.s.writer.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, newer)); err != nil {
		t.Fatal(err)
	}
	path := f.s.Path()
	f.s.Close()
	if v, err := SchemaOf(ctx, path); v != newer || err != nil {
		t.Errorf("SchemaOf: %d, %v; want %d", v, err, newer)
	}
	_, err := Open(ctx, path, Options{})
	var ne *NewerSchemaError
	if !errors.As(err, &ne) || ne.Database != newer || ne.Known != SchemaVersion() {
		t.Fatalf("Open on schema %d: %v", newer, err)
	}
	for _, want := range []string{fmt.Sprintf("schema version %d", newer), fmt.Sprintf("up to %d", SchemaVersion())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// A new database gets small pages (fewer bytes written per booking); one
// made before keeps its 4 KiB pages, since WAL mode cannot change them, and
// works as before.
func TestPageSize(t *testing.T) {
	ctx := context.Background()
	pageSize := func(s *Store) int {
		var n int
		if err := s.writer.QueryRowContext(ctx, "PRAGMA page_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	f := newFixture(t)
	if got := pageSize(f.s); got != PageSize {
		t.Errorf("new database: page size %d, want %d", got, PageSize)
	}

	old := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE x (a)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(ctx, old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q, %v", mode, err)
	}
	if got := pageSize(s); got != 4096 {
		t.Errorf("existing database: page size %d, want 4096 kept", got)
	}
	if _, err := s.CreateUser(ctx, NewUser{Email: "a@example.org", Name: "A", Role: RoleMember, State: StateApproved}); err != nil {
		t.Errorf("existing database: %v", err)
	}
}
