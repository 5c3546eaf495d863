package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"booking/store"
)

// TestLanguageSwitchKeepsThePage: the footer's switch returns to the page
// it is on, with the page's query; the calendar names its month.
func TestLanguageSwitchKeepsThePage(t *testing.T) {
	e := newEnv(t)
	anna := e.as(e.anna)
	for path, want := range map[string]string{
		"/calendar?month=2027-01":       "/calendar?month=2027-01",
		"/calendar":                     "/calendar?month=2026-08",
		"/bookings?when=past&status=":   "/bookings?when=past&status=",
		"/availability?month=2026-12":   "/availability?month=2026-12",
		"/bookings/new?arrival=" + d(3): "/bookings/new?arrival=" + d(3),
	} {
		r := anna.get(path)
		wantStatus(t, r, http.StatusOK)
		if got, _ := r.doc.Find(`footer form[action="/language"] input[name="next"]`).Attr("value"); got != want {
			t.Errorf("%s: the language switch returns to %q, want %q", path, got, want)
		}
	}
	// A refused form answers a POST: the switch goes back to the form.
	r := anna.post("/bookings", url.Values{"arrival": {d(3)}, "departure": {d(2)}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got, _ := r.doc.Find(`footer input[name="next"]`).Attr("value"); got != "/bookings/new" {
		t.Errorf("on the refused form the switch returns to %q, want /bookings/new", got)
	}
	wantRedirect(t, anna.post("/language", url.Values{"lang": {"en"}, "next": {"/calendar?month=2027-01"}}), "/calendar?month=2027-01")
	if r := anna.get("/calendar?month=2027-01"); r.text("main h1") != "January 2027" {
		t.Errorf("after switching: %q, want January 2027", r.text("main h1"))
	}
}

// TestBookingFormEnterBooks: the form's first submit button, the one Enter
// presses, sends the booking; "show free beds" comes later and says, when
// it was pressed, that nothing is booked yet.
func TestBookingFormEnterBooks(t *testing.T) {
	e := newEnv(t)
	anna := e.as(e.anna)
	r := anna.get("/bookings/new")
	wantStatus(t, r, http.StatusOK)
	buttons := r.doc.Find(`form[action="/bookings"] button[type="submit"]`)
	if buttons.Length() != 3 {
		t.Fatalf("%d submit buttons, want the hidden default, show free beds, request", buttons.Length())
	}
	first := buttons.First()
	if _, hidden := first.Attr("hidden"); !hidden || first.AttrOr("formmethod", "") != "" || first.AttrOr("formaction", "") != "" {
		t.Errorf("the first submit button is %q (hidden %v, formmethod %q): Enter would not book",
			first.Text(), hidden, first.AttrOr("formmethod", ""))
	}
	check := buttons.Eq(1)
	if check.AttrOr("formmethod", "") != "get" || check.AttrOr("name", "") != "check" || !strings.HasSuffix(check.AttrOr("formaction", ""), "#where") {
		t.Errorf("show free beds: %v", check.Nodes[0].Attr)
	}
	if r.doc.Find(".notice").Length() != 0 {
		t.Errorf("the empty form says %q", r.text(".notice"))
	}
	r = anna.get("/bookings/new?arrival=" + d(3) + "&departure=" + d(5) + "&check=1")
	if got := r.text(`#where .notice[role="status"]`); !strings.Contains(got, "Noch ist nichts gebucht") || !strings.Contains(got, "2 Nächte") {
		t.Errorf("after show free beds: %q", got)
	}
	r = anna.get("/bookings/new?arrival=" + d(3) + "&check=1")
	if got := r.text(`#where .notice`); !strings.Contains(got, "Bitte zuerst Anreise und Abreise wählen") {
		t.Errorf("show free beds without a departure: %q", got)
	}
	// A refusal: the summary comes first, takes the focus and leads to the field.
	r = anna.post("/bookings", url.Values{"arrival": {d(3)}, "departure": {d(5)}, "persons." + strconvID(e.room.ID): {"9"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	sum := r.doc.Find(`main .error-summary[role="alert"][tabindex="-1"]`)
	if _, ok := sum.Attr("autofocus"); !ok || sum.Find(`a[href="#persons-`+strconvID(e.room.ID)+`"]`).Length() != 1 {
		t.Errorf("the error summary: %q", r.text("main .error-summary"))
	}
}

// TestBookingPageParts: who sees which way back, the reason, and the red
// buttons apart.
func TestBookingPageParts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mk := func(u *store.User, from int) string {
		b, err := e.st.CreateBooking(ctx, u, store.BookingInput{Arrival: today.AddDays(from), Departure: today.AddDays(from + 1),
			Items: []store.Item{{AccommodationID: e.tent.ID, Persons: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		return "/bookings/" + strconvID(b.ID)
	}
	pending, rejected := mk(e.anna, 2), mk(e.anna, 5)
	if err := e.st.RejectBooking(ctx, e.admin, mustIDFromPath(t, rejected), "Das Zelt ist verliehen."); err != nil {
		t.Fatal(err)
	}
	admin, anna, ben := e.as(e.admin), e.as(e.anna), e.as(e.ben)

	r := admin.get(pending)
	if r.doc.Find(`main a[href="/admin/bookings"]`).Length() != 1 || r.doc.Find(`main a[href="/bookings"]`).Length() != 0 {
		t.Errorf("an administrator on someone's booking is led back to %q", r.text("main > p:last-child"))
	}
	reject, cancel := r.doc.Find("form.reject button.danger"), r.doc.Find(`a[href$="/cancel"]`)
	if reject.Length() != 1 || cancel.Length() != 1 || reject.Closest("section").Find(`a[href$="/cancel"]`).Length() != 0 {
		t.Errorf("Ablehnen and Stornieren share a card")
	}
	if r := anna.get(pending); r.doc.Find(`main a[href="/bookings"]`).Length() != 1 {
		t.Errorf("the owner is not led back to her bookings")
	}
	if r := anna.get(rejected); !strings.Contains(r.text(".facts"), "Begründung") || !strings.Contains(r.text(".facts"), "Das Zelt ist verliehen.") {
		t.Errorf("the owner does not see why: %q", r.text(".facts"))
	}
	// Another member does not find a rejected booking at all, so sees no
	// reason, not even an empty one.
	if r := ben.get(rejected); r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "Begründung") {
		t.Errorf("another member on a rejected booking: status %d, %q", r.StatusCode, r.text("main"))
	}
}

func mustIDFromPath(t *testing.T, path string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/bookings/"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
