package handlers_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"booking/e2e"
	"booking/store"
)

// feedURLs makes u's feed addresses on the profile and returns them (mine,
// house), checking the webcal links beside them.
func feedURLs(t *testing.T, e *env, u *store.User) (mine, house string) {
	t.Helper()
	c := e.as(u)
	r := c.get("/profile")
	if r.doc.Find(`#feeds form[action="/profile/feeds"] button`).Length() != 1 || r.doc.Find("#feed-0").Length() != 0 {
		t.Fatalf("before: the profile must offer to create the addresses")
	}
	wantRedirect(t, c.post("/profile/feeds", nil), "/profile")
	r = c.get("/profile")
	checkLabels(t, r)
	mine, _ = r.doc.Find("#feed-0").Attr("value")
	house, _ = r.doc.Find("#feed-1").Attr("value")
	webcal, _ := r.doc.Find(`#feeds a[href^="webcal://"]`).First().Attr("href")
	if !strings.HasSuffix(mine, "/mine.ics") || !strings.HasSuffix(house, "/house.ics") || webcal != "webcal://"+strings.TrimPrefix(mine, "http://") {
		t.Fatalf("feed addresses %q %q, webcal %q", mine, house, webcal)
	}
	if r.doc.Find(`button[data-copy="feed-0"]`).Length() != 1 {
		t.Errorf("no copy button")
	}
	return mine, house
}

func fetch(t *testing.T, method, u string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// TestFeedsParse has Debian's python3-icalendar read both feeds of a house
// whose names and notes are full of commas, semicolons, umlauts, quotes and
// line breaks, and checks every event, the folding and the escaping.
func TestFeedsParse(t *testing.T) {
	e2e.RequireICalendar(t)
	e := newEnv(t)
	ctx := context.Background()
	const annaName = "Anna-Lena Müller, geb. Schäfer; Köln"
	if err := e.st.UpdateProfile(ctx, e.anna.ID, annaName, "de"); err != nil {
		t.Fatal(err)
	}
	anna, _ := e.st.User(ctx, e.anna.ID)
	south, err := e.st.CreateAccommodation(ctx, e.admin, store.AccommodationInput{Name: "Zimmer „Süd“, oben; mit Balkon", Kind: "room", Beds: 3})
	if err != nil {
		t.Fatal(err)
	}
	notes := "Wir kommen spät, gegen 22 Uhr; bitte Schlüssel unter die Fußmatte.\r\nÄpfel, Birnen & Öl mitbringen – danke! \\o/ " +
		strings.Repeat("Grüße ", 20)
	mine, house := feedURLs(t, e, anna)

	pending, err := e.st.CreateBooking(ctx, anna, store.BookingInput{Arrival: today + 3, Departure: today + 6,
		Items: []store.Item{{AccommodationID: south.ID, Persons: 2}, {AccommodationID: e.tent.ID, Persons: 1}}, Notes: notes})
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := e.st.CreateBooking(ctx, anna, store.BookingInput{Arrival: today + 10, Departure: today + 11,
		Items: []store.Item{{AccommodationID: e.room.ID, Persons: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	res, before := fetch(t, "GET", mine, nil)
	if res.StatusCode != 200 {
		t.Fatalf("mine.ics: %d", res.StatusCode)
	}
	uid := eventOf(t, e2e.ParseICS(t, before), accepted.ID).UID
	if _, err := e.st.UpdateBooking(ctx, anna, accepted.ID, store.BookingInput{Arrival: today + 10, Departure: today + 12,
		Items: []store.Item{{AccommodationID: e.room.ID, Persons: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AcceptBooking(ctx, e.admin, accepted.ID); err != nil {
		t.Fatal(err)
	}
	rejected, _ := e.st.CreateBooking(ctx, anna, store.BookingInput{Arrival: today + 20, Departure: today + 21, Items: []store.Item{{AccommodationID: e.room.ID, Persons: 2}}})
	if err := e.st.RejectBooking(ctx, e.admin, rejected.ID, "Da renovieren wir, sorry; nächstes Mal!"); err != nil {
		t.Fatal(err)
	}
	bens, _ := e.st.CreateBooking(ctx, e.ben, store.BookingInput{Arrival: today + 4, Departure: today + 5, Items: []store.Item{{AccommodationID: e.tent.ID, Persons: 1}}})
	if err := e.st.CancelBooking(ctx, e.ben, bens.ID); err != nil {
		t.Fatal(err)
	}

	res, body := fetch(t, "GET", mine, nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/calendar; charset=utf-8" || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("mine.ics: %d %q cookie %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Set-Cookie"))
	}
	checkFolding(t, body)
	cal := e2e.ParseICS(t, body)
	if cal.Version != "2.0" || cal.Name != "Gartenhaus – meine Aufenthalte" || len(cal.Timezones) != 1 || cal.Timezones[0] != "Europe/Berlin" {
		t.Errorf("calendar: %+v", cal)
	}
	if len(cal.Events) != 3 {
		t.Fatalf("%d events in my feed, want 3 (pending, accepted, rejected)", len(cal.Events))
	}
	ev := eventOf(t, cal, pending.ID)
	if ev.Summary != "Gartenhaus: Zelt, Zimmer „Süd“, oben; mit Balkon (ausstehend)" || ev.Status != "TENTATIVE" || ev.Sequence != 0 {
		t.Errorf("pending: %+v", ev)
	}
	wantDesc := "Zelt: 1 Person\nZimmer „Süd“, oben; mit Balkon: 2 Personen\nStatus: ausstehend\nNotizen: " +
		strings.ReplaceAll(strings.TrimSpace(notes), "\r\n", "\n") + "\n" + e.srv.URL + "/bookings/" + strconvID(pending.ID)
	if ev.Description != wantDesc {
		t.Errorf("description:\n got %q\nwant %q", ev.Description, wantDesc)
	}
	if ev.Start != (e2e.ICSDate{Value: d(3), AllDay: true}) || ev.End != (e2e.ICSDate{Value: d(6), AllDay: true}) {
		t.Errorf("all-day dates %+v – %+v", ev.Start, ev.End)
	}
	if ev.URL != e.srv.URL+"/bookings/"+strconvID(pending.ID) || ev.Location != "Gartenhaus" {
		t.Errorf("url %q location %q", ev.URL, ev.Location)
	}
	ev = eventOf(t, cal, accepted.ID)
	if ev.UID != uid || ev.Status != "CONFIRMED" || ev.Sequence != 2 || ev.End.Value != d(12) {
		t.Errorf("accepted after an edit: %+v (uid before %q)", ev, uid)
	}
	ev = eventOf(t, cal, rejected.ID)
	if ev.Status != "CANCELLED" || !strings.Contains(ev.Description, "Begründung: Da renovieren wir, sorry; nächstes Mal!") {
		t.Errorf("rejected: %+v", ev)
	}

	res, body = fetch(t, "GET", house, nil)
	if res.StatusCode != 200 {
		t.Fatalf("house.ics: %d", res.StatusCode)
	}
	checkFolding(t, body)
	cal = e2e.ParseICS(t, body)
	if cal.Name != "Gartenhaus – ganzes Haus" || len(cal.Events) != 4 {
		t.Fatalf("house feed %q with %d events, want 4", cal.Name, len(cal.Events))
	}
	ev = eventOf(t, cal, pending.ID)
	if ev.Summary != annaName+": Zelt, Zimmer „Süd“, oben; mit Balkon (ausstehend)" || strings.Contains(ev.Description, "Schlüssel") ||
		ev.Transp != "TRANSPARENT" {
		t.Errorf("house feed shows %+v", ev)
	}
	ev = eventOf(t, cal, bens.ID)
	if ev.Status != "CANCELLED" || ev.Summary != "Ben: Zelt (storniert)" {
		t.Errorf("cancelled: %+v", ev)
	}

	// Occupied only: no names, no accommodations, no links.
	wantRedirect(t, e.as(e.admin).post("/admin/settings/feeds", url.Values{"occupied_only": {"1"}}), "/admin/settings")
	_, body = fetch(t, "GET", house, nil)
	cal = e2e.ParseICS(t, body)
	for _, ev := range cal.Events {
		if !strings.HasPrefix(ev.Summary, "Belegt") || ev.Description != "" || ev.URL != "" {
			t.Errorf("occupied only: %+v", ev)
		}
	}
	if strings.Contains(string(body), "Anna") || strings.Contains(string(body), "Zelt") {
		t.Errorf("the private house feed names names:\n%s", body)
	}
	_, body = fetch(t, "GET", mine, nil)
	if !strings.Contains(string(body), "Balkon") {
		t.Errorf("my own feed must stay complete")
	}
}

// eventOf finds the event of booking id by its link.
func eventOf(t *testing.T, cal *e2e.ICSCalendar, id int64) e2e.ICSEvent {
	t.Helper()
	for _, ev := range cal.Events {
		if strings.HasSuffix(ev.URL, "/bookings/"+strconvID(id)) {
			return ev
		}
	}
	t.Fatalf("no event of booking %d: %+v", id, cal.Events)
	return e2e.ICSEvent{}
}

// checkFolding: every line ends in CRLF, holds at most 75 octets and whole
// UTF-8 characters, and the long notes were folded.
func checkFolding(t *testing.T, body []byte) {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		t.Errorf("the feed does not end with CRLF")
	}
	folded := 0
	for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\r\n")), []byte("\r\n")) {
		if len(line) > 75 {
			t.Errorf("a line of %d octets: %q", len(line), line)
		}
		if !utf8.Valid(line) {
			t.Errorf("a line splits a character: %q", line)
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("a bare CR or LF: %q", line)
		}
		if len(line) > 0 && line[0] == ' ' {
			folded++
		}
	}
	if folded == 0 {
		t.Errorf("nothing was folded")
	}
}

// TestFeedValidators: ETag and Last-Modified, 304 for a poll that has the
// current feed, HEAD, and 404 for any address that is not a live feed.
func TestFeedValidators(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mine, house := feedURLs(t, e, e.anna)
	if _, err := e.st.CreateBooking(ctx, e.anna, store.BookingInput{Arrival: today + 1, Departure: today + 2, Items: []store.Item{{AccommodationID: e.room.ID, Persons: 1}}}); err != nil {
		t.Fatal(err)
	}
	res, body := fetch(t, "GET", house, nil)
	etag, modified := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
	if res.StatusCode != 200 || etag == "" || modified == "" || !strings.Contains(res.Header.Get("Cache-Control"), "private") {
		t.Fatalf("%d etag %q last-modified %q cache %q", res.StatusCode, etag, modified, res.Header.Get("Cache-Control"))
	}
	if res, again := fetch(t, "GET", house, nil); res.Header.Get("ETag") != etag || !bytes.Equal(again, body) {
		t.Errorf("the same data gave another feed")
	}
	if res, b := fetch(t, "GET", house, map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", res.StatusCode, len(b))
	}
	if res, _ := fetch(t, "GET", house, map[string]string{"If-Modified-Since": modified}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since: %d", res.StatusCode)
	}
	if res, b := fetch(t, "HEAD", house, nil); res.StatusCode != 200 || len(b) != 0 || res.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %d bytes", res.StatusCode, len(b))
	}
	// A change of another member's data changes the house feed.
	if _, err := e.st.CreateBooking(ctx, e.ben, store.BookingInput{Arrival: today + 5, Departure: today + 6, Items: []store.Item{{AccommodationID: e.tent.ID, Persons: 1}}}); err != nil {
		t.Fatal(err)
	}
	if res, _ := fetch(t, "GET", house, map[string]string{"If-None-Match": etag}); res.StatusCode != 200 || res.Header.Get("ETag") == etag {
		t.Errorf("after a new booking: %d, etag %q", res.StatusCode, res.Header.Get("ETag"))
	}
	// ... but not Anna's own feed: its bytes and Last-Modified stay.
	res1, _ := fetch(t, "GET", mine, nil)
	if res, _ := fetch(t, "GET", mine, map[string]string{"If-None-Match": res1.Header.Get("ETag")}); res.StatusCode != http.StatusNotModified {
		t.Errorf("my feed after someone else's booking: %d", res.StatusCode)
	}

	base := e.srv.URL + "/feeds/"
	token := strings.TrimSuffix(strings.TrimPrefix(mine, base), "/mine.ics")
	for _, u := range []string{base + "wrongtoken/mine.ics", base + strings.ToUpper(token) + "/house.ics", base + token + "/other.ics", base + "/house.ics"} {
		if res, _ := fetch(t, "GET", u, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", u, res.StatusCode)
		}
	}
	// A new link revokes the old one.
	c := e.as(e.anna)
	wantRedirect(t, c.post("/profile/feeds", nil), "/profile")
	if res, _ := fetch(t, "GET", mine, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("revoked feed: %d", res.StatusCode)
	}
	newMine, _ := c.get("/profile").doc.Find("#feed-0").Attr("value")
	if res, _ := fetch(t, "GET", newMine, nil); res.StatusCode != 200 || newMine == mine {
		t.Errorf("new feed %q: %d", newMine, res.StatusCode)
	}
	// A disabled member's feeds are gone.
	if err := e.st.SetUserState(ctx, e.admin, e.anna.ID, store.StateDisabled); err != nil {
		t.Fatal(err)
	}
	if res, _ := fetch(t, "GET", newMine, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("feed of a disabled member: %d", res.StatusCode)
	}
	// The feed routes need no login, but the profile's form does.
	wantStatus(t, e.client().post("/profile/feeds", nil), http.StatusForbidden)
}
