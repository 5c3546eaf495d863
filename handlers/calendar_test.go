package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"booking/handlers"
	"booking/store"
)

// TestCalendarViewersSeeTheirOwnParts: the calendar page is put together
// from parts shared by all viewers; each viewer still sees only their own
// name and menu, exactly as a page rendered whole would show them, and a
// change shows at once to everyone.
func TestCalendarViewersSeeTheirOwnParts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A name with everything html/template escapes, and what it leaves.
	odd, err := e.st.CreateUser(ctx, store.NewUser{Email: "odd@example.org", Name: `Jo & "Max" <O'Neil> +1 ü`,
		Role: store.RoleMember, State: store.StateApproved, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	clients := map[*store.User]*client{}
	for _, u := range []*store.User{e.anna, e.ben, e.admin, odd} {
		clients[u] = e.as(u)
	}
	check := func(when string, pending int) {
		t.Helper()
		// Twice each, in turn: the second look comes from the shared parts
		// the others' looks left behind.
		for range 2 {
			for _, u := range []*store.User{e.anna, e.ben, e.admin, odd} {
				r := clients[u].get("/calendar")
				wantStatus(t, r, http.StatusOK)
				me := r.doc.Find(`.nav-me a[href="/profile"]`)
				if me.Text() != u.Name || me.AttrOr("aria-label", "") != "Mein Konto: "+u.Name {
					t.Errorf("%s: %s sees the name %q (%q)", when, u.Name, me.Text(), me.AttrOr("aria-label", ""))
				}
				if got := r.text(".nav-phone a[href='/profile']"); got != "Mein Konto ("+u.Name+")" {
					t.Errorf("%s: %s sees %q in the phone's menu", when, u.Name, got)
				}
				admin := r.doc.Find(`.nav-wide a[href="/admin"]`)
				if u.IsAdmin() != (admin.Length() == 1) {
					t.Errorf("%s: %s sees %d links to the administration", when, u.Name, admin.Length())
				}
				if badge := strings.TrimSpace(admin.Find(".badge").Text()); u.IsAdmin() && badge != strings.Repeat("1", pending) {
					t.Errorf("%s: the admin sees %q bookings waiting, want %d", when, badge, pending)
				}
				for _, other := range []*store.User{e.anna, e.ben, e.admin, odd} {
					if other != u && strings.Contains(r.doc.Find("header").Text(), other.Name) {
						t.Errorf("%s: %s sees %s's name in the header", when, u.Name, other.Name)
					}
				}
			}
		}
	}
	check("before a change", 0)

	// A booking shows at once, to everyone, and the admin's count with it.
	if _, err := e.st.CreateBooking(ctx, e.ben, store.BookingInput{Arrival: today.AddDays(3), Departure: today.AddDays(5),
		Items: []store.Item{{AccommodationID: e.tent.ID, Persons: 2}}}); err != nil {
		t.Fatal(err)
	}
	check("after a booking", 1)
	for u, c := range clients {
		r := c.get("/calendar")
		if n := r.doc.Find(`table.month a.bk.pending`).Length(); n != 2 {
			t.Errorf("%s sees the new booking on %d days, want 2", u.Name, n)
		}
		if n := r.doc.Find(`ol.agenda a.stay.pending`).Length(); n != 1 {
			t.Errorf("%s sees the new booking %d times in the agenda", u.Name, n)
		}
	}

	// The page put together reads byte for byte as the page rendered whole
	// (which a flash message makes it), but for the flash.
	c := clients[odd]
	shared := c.get("/calendar").body
	c.http.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "flash", Value: "flash.mail_again", Path: "/"}})
	whole := c.get("/calendar").body
	flash := regexp.MustCompile(`<p class="flash" role="status">[^<]*</p>`)
	if !flash.MatchString(whole) {
		t.Fatalf("no flash in the page rendered whole")
	}
	if whole = flash.ReplaceAllString(whole, ""); whole != shared {
		t.Errorf("the page put together differs from the page rendered whole:\n%s\n----\n%s", shared, whole)
	}
	// The flash was shown once.
	if again := c.get("/calendar").body; again != shared {
		t.Errorf("the flash was shown again, or the page changed")
	}
}

// TestCalendarAfterChanges: after any sequence of changes, a month brought
// up to date from the changed stays (or kept, when they are elsewhere) reads
// byte for byte as the same month rendered from scratch by a server that
// has cached nothing.
func TestCalendarAfterChanges(t *testing.T) {
	var cfg handlers.Config
	e := newEnvConfigured(t, func(_ *store.Store, c *handlers.Config) { cfg = *c })
	ctx := context.Background()
	warm := e.srv.Config.Handler
	cookie := sessionHTTPCookie(e.as(e.anna))
	get := func(h http.Handler, month string) string {
		return serveGet(t, h, "/calendar?month="+month, cookie)
	}
	months := []string{"2026-08", "2026-09", "2026-10"}
	rng := rand.New(rand.NewPCG(14, 2))
	var ids []int64
	members := []*store.User{e.anna, e.ben, e.admin}
	// Mostly one of the last few bookings: a booking changed twice before
	// the next view is a case of its own.
	pick := func() int64 { return ids[len(ids)-1-rng.IntN(min(4, len(ids)))] }
	accs := []*store.Accommodation{e.room, e.tent}
	for step := range 300 {
		var what string
		var err error
		switch op := rng.IntN(10); {
		case op < 4 || len(ids) == 0:
			arr := today.AddDays(rng.IntN(80))
			var b *store.Booking
			b, err = e.st.CreateBooking(ctx, members[rng.IntN(3)], store.BookingInput{Arrival: arr, Departure: arr.AddDays(1 + rng.IntN(4)),
				Items: []store.Item{{AccommodationID: accs[rng.IntN(2)].ID, Persons: 1}}})
			if err == nil {
				ids = append(ids, b.ID)
			}
			what = "create"
		case op < 6:
			err, what = e.st.AcceptBooking(ctx, e.admin, pick()), "accept"
		case op < 7:
			err, what = e.st.CancelBooking(ctx, e.admin, pick()), "cancel"
		case op < 8:
			err, what = e.st.RejectBooking(ctx, e.admin, pick(), "voll"), "reject"
		case op < 9:
			arr := today.AddDays(rng.IntN(80))
			_, err = e.st.UpdateBooking(ctx, e.admin, pick(), store.BookingInput{Arrival: arr, Departure: arr.AddDays(1 + rng.IntN(3)),
				Items: []store.Item{{AccommodationID: e.room.ID, Persons: 1}, {AccommodationID: e.tent.ID, Persons: 1}}})
			what = "move"
		default:
			// Something the stays show, changed outside of them.
			err, what = e.st.UpdateAccommodation(ctx, e.admin, e.tent.ID, store.AccommodationInput{Name: fmt.Sprintf("Zelt %d", step), Kind: "tent", Beds: 4}), "rename"
		}
		if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNoCapacity) && !errors.As(err, new(*store.ValidationError)) {
			t.Fatalf("step %d %s: %v", step, what, err)
		}
		// The warm server sees only some months after each change, so its
		// months go stale by one change or by several.
		cold, err := handlers.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Now and then several changes come before the next view.
		if rng.IntN(3) == 0 {
			continue
		}
		for _, m := range months {
			if rng.IntN(3) == 0 && step%10 != 9 {
				continue
			}
			if got, want := get(warm, m), get(cold, m); got != want {
				t.Fatalf("step %d (%s), %s: the month kept differs from the month rendered afresh", step, what, m)
			}
		}
	}
}
