package handlers_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

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
