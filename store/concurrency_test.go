package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestLastBedsRace has many members book the last beds of the same nights
// at once. Exactly the capacity must be sold: the check runs inside the
// write transaction, so no two requests can both see the same free bed.
func TestLastBedsRace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const beds, members = 4, 24
	barn := f.accommodation(t, "Scheune", "other", beds)
	// Someone already holds one bed on the middle night only.
	f.book(t, f.member, 11, 1, Item{AccommodationID: barn.ID, Persons: 1})

	users := make([]*User, members)
	for i := range users {
		users[i] = f.user(t, fmt.Sprintf("m%02d@example.org", i), RoleMember)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, refused int
	for _, u := range users {
		wg.Go(func() {
			<-start
			_, err := f.s.CreateBooking(ctx, u, BookingInput{Arrival: today + 10, Departure: today + 13,
				Items: []Item{{AccommodationID: barn.ID, Persons: 1}}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrNoCapacity):
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != beds-1 || refused != members-ok {
		t.Fatalf("sold %d, refused %d; want %d sold", ok, refused, beds-1)
	}
	av, err := f.s.Availability(ctx, today+10, today+13, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range av.Nights() {
		free, _ := av.FreeOn(barn.ID, n)
		want := 1
		if n == today+11 {
			want = 0
		}
		if free != want {
			t.Errorf("night %s: %d free, want %d", n, free, want)
		}
	}
}

// model is the reference the store is checked against: a list of bookings
// and a per-night count, nothing else.
type model struct {
	beds     map[int64]int
	bookings map[int64]*modelBooking
}

type modelBooking struct {
	arrival, departure Date
	items              map[int64]int
	status             string
}

func (m *model) used(acc int64, night Date, exclude int64) int {
	n := 0
	for id, b := range m.bookings {
		if id == exclude || (b.status != StatusPending && b.status != StatusAccepted) {
			continue
		}
		if night >= b.arrival && night < b.departure {
			n += b.items[acc]
		}
	}
	return n
}

func (m *model) fits(in BookingInput, exclude int64) bool {
	for _, it := range in.Items {
		for d := in.Arrival; d < in.Departure; d++ {
			if m.used(it.AccommodationID, d, exclude)+it.Persons > m.beds[it.AccommodationID] {
				return false
			}
		}
	}
	return true
}

// TestModel applies a long random sequence of operations to the store and to
// the model and checks that they agree on every decision and, at the end, on
// the free beds of every night.
func TestModel(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	steps := 400
	if testing.Short() {
		seeds, steps = seeds[:1], 150
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed, steps) })
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	f := newFixture(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed))
	accs := []*Accommodation{f.room, f.tent, f.accommodation(t, "Wohnwagen", "camper", 3)}
	m := &model{beds: map[int64]int{}, bookings: map[int64]*modelBooking{}}
	for _, a := range accs {
		m.beds[a.ID] = a.Beds
	}
	users := []*User{f.member, f.user(t, "ben@example.org", RoleMember), f.user(t, "cem@example.org", RoleMember)}
	// The model knows beds, not the limit on pending requests.
	f.setLimits(t, 18, 0)
	const horizon = 20 // all stays fall in the next 20 nights: lots of contention

	randomInput := func() BookingInput {
		arr := today + Date(rng.IntN(horizon-1))
		dep := arr + 1 + Date(rng.IntN(min(5, int(today+horizon-arr))))
		in := BookingInput{Arrival: arr, Departure: dep}
		for _, i := range rng.Perm(len(accs))[:1+rng.IntN(2)] {
			in.Items = append(in.Items, Item{AccommodationID: accs[i].ID, Persons: 1 + rng.IntN(3)})
		}
		return in
	}
	var ids []int64
	pick := func() int64 { return ids[rng.IntN(len(ids))] }
	decisions, refusals := 0, 0
	for step := range steps {
		op := rng.IntN(10)
		if len(ids) == 0 {
			op = 0
		}
		switch {
		case op < 4: // create
			u := users[rng.IntN(len(users))]
			in := randomInput()
			want := m.fits(in, 0)
			b, err := f.s.CreateBooking(ctx, u, in)
			if got := err == nil; got != want {
				t.Fatalf("step %d create %+v: store ok=%v (%v), model ok=%v", step, in, got, err, want)
			}
			if err != nil && !errors.Is(err, ErrNoCapacity) {
				t.Fatalf("step %d: refused for another reason: %v", step, err)
			}
			if err == nil {
				mb := &modelBooking{in.Arrival, in.Departure, map[int64]int{}, StatusPending}
				for _, it := range in.Items {
					mb.items[it.AccommodationID] = it.Persons
				}
				m.bookings[b.ID] = mb
				ids = append(ids, b.ID)
			} else {
				refusals++
			}
			decisions++
		case op < 6: // edit by a member (the owner)
			id := pick()
			mb := m.bookings[id]
			in := randomInput()
			owner, err := f.s.bookingByID(ctx, f.s.reader, id)
			if err != nil {
				t.Fatal(err)
			}
			actor := usersByID(users, owner.UserID)
			wantOK := (mb.status == StatusPending || mb.status == StatusAccepted) && m.fits(in, id)
			_, err = f.s.UpdateBooking(ctx, actor, id, in)
			if got := err == nil; got != wantOK {
				t.Fatalf("step %d edit %d (%s) to %+v: store ok=%v (%v), model ok=%v", step, id, mb.status, in, got, err, wantOK)
			}
			if err == nil {
				changed := in.Arrival != mb.arrival || in.Departure != mb.departure || len(in.Items) != len(mb.items)
				for _, it := range in.Items {
					changed = changed || mb.items[it.AccommodationID] != it.Persons
				}
				mb.arrival, mb.departure, mb.items = in.Arrival, in.Departure, map[int64]int{}
				for _, it := range in.Items {
					mb.items[it.AccommodationID] = it.Persons
				}
				if changed {
					mb.status = StatusPending
				}
			} else {
				refusals++
			}
			decisions++
		case op < 7: // cancel
			id := pick()
			mb := m.bookings[id]
			err := f.s.CancelBooking(ctx, f.admin, id)
			wantOK := mb.status == StatusPending || mb.status == StatusAccepted
			if (err == nil) != wantOK {
				t.Fatalf("step %d cancel %d (%s): %v", step, id, mb.status, err)
			}
			if err == nil {
				mb.status = StatusCancelled
			}
		case op < 9: // accept
			id := pick()
			mb := m.bookings[id]
			err := f.s.AcceptBooking(ctx, f.admin, id)
			if (err == nil) != (mb.status == StatusPending) {
				t.Fatalf("step %d accept %d (%s): %v", step, id, mb.status, err)
			}
			if err == nil {
				mb.status = StatusAccepted
			}
		default: // reject
			id := pick()
			mb := m.bookings[id]
			err := f.s.RejectBooking(ctx, f.admin, id, "passt nicht")
			if (err == nil) != (mb.status == StatusPending) {
				t.Fatalf("step %d reject %d (%s): %v", step, id, mb.status, err)
			}
			if err == nil {
				mb.status = StatusRejected
			}
		}
	}
	av, err := f.s.Availability(ctx, today, today+horizon, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accs {
		for d := today; d < today+horizon; d++ {
			got, _ := av.FreeOn(a.ID, d)
			if want := a.Beds - m.used(a.ID, d, 0); got != want {
				t.Errorf("%s on %s: store says %d free, model %d", a.Name, d, got, want)
			}
		}
	}
	for id, mb := range m.bookings {
		b, err := f.s.bookingByID(ctx, f.s.reader, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != mb.status {
			t.Errorf("booking %d: store %s, model %s", id, b.Status, mb.status)
		}
	}
	// A sequence where everything fits (or nothing does) would prove little.
	if refusals == 0 || refusals == decisions {
		t.Errorf("seed %d: %d refusals in %d decisions: the sequence does not exercise both outcomes", seed, refusals, decisions)
	}
	t.Logf("seed %d: %d steps, %d capacity decisions (%d refused), %d bookings", seed, steps, decisions, refusals, len(ids))
}

func usersByID(us []*User, id int64) *User {
	for _, u := range us {
		if u.ID == id {
			return u
		}
	}
	return nil
}
