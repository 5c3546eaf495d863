package handlers_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"booking/handlers"
	"booking/store"
)

// TestE2EFamilyStory runs the family's whole story in a real Chromium
// against a real server: the first administrator sets the house up and
// invites two members, who book from their own devices; the second is
// refused the full room with the message next to the field; the
// administrator accepts the first booking, its owner sees it in the
// calendar and cancels it. Every step is a click, a key press or a form
// submit in the browser. Screenshots of the main pages land in
// $E2E_ARTIFACTS (else testdata/screenshots/) at phone and desktop width.
func TestE2EFamilyStory(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end browser story: not in -short mode")
	}
	started := time.Now()
	// The whole story stops by itself, whatever hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	srv, st := e2eServer(t, ctx, nil)
	b, stop := e2eStartBrowser(t, ctx, srv.URL)
	defer stop()

	const (
		password  = "Sommer im Garten 2026"
		arrival   = "2026-08-14" // Friday, two weeks after "today"
		departure = "2026-08-16" // two nights
		notes     = "Wir bringen Kuchen mit."
	)

	// 1. The setup link, as main.go prints it on the first start.
	token, err := st.NewSetupToken(ctx)
	if err != nil || token == "" {
		t.Fatalf("NewSetupToken: %q, %v", token, err)
	}
	helga, closeHelga := b.newPerson("Helga", false)
	defer closeHelga()
	helga.open(srv.URL+"/setup/"+token, http.StatusOK)
	if lang := e2eJS[string](helga, `document.documentElement.lang`); lang != "de" {
		helga.fatalf("page language %q, want de (the browser asks for German)", lang)
	}
	helga.wantText(`//main//h1`, "Ersten Administrator anlegen")
	helga.typeInto("name", "Helga")
	helga.typeInto("email", "helga@example.org")
	helga.typeInto("password", password)
	helga.typeInto("password2", password)
	helga.screenshot("setup")
	helga.click(`//main//button[@type="submit"]`, http.StatusOK)
	helga.wantPath("/admin/accommodations")
	helga.wantFlash("Geschafft! Lege jetzt die Schlafplätze an und lade die Familie ein.")

	// 2. The accommodations.
	for _, acc := range []struct{ name, kind, beds string }{
		{"Zimmer 1", "room", "2"},
		{"Zelt", "tent", "4"},
	} {
		helga.click(`//main//a[@href="/admin/accommodations/new"]`, http.StatusOK)
		helga.wantText(`//main//h1`, "Schlafplatz anlegen")
		helga.typeInto("name", acc.name)
		helga.setField("kind", acc.kind)
		helga.typeInto("beds", acc.beds)
		helga.click(`//main//button[normalize-space()="Speichern"]`, http.StatusOK)
		helga.wantPath("/admin/accommodations")
		helga.wantFlash("Gespeichert.")
		helga.wantText(`//table//tr[td[normalize-space()="`+acc.name+`"]]`, acc.beds)
	}
	helga.screenshot("accommodations")

	// 3. Two invitations; the link is shown once, on the page.
	helga.click(`//nav[contains(@class,"sub")]//a[@href="/admin/members"]`, http.StatusOK)
	invite := func(name, email string) string {
		t.Helper()
		helga.typeInto("name", name)
		helga.typeInto("email", email)
		helga.click(`//main//button[normalize-space()="Einladungslink erstellen"]`, http.StatusOK)
		helga.wantText(`//section[contains(@class,"linkbox")]//h2`, "Einladungslink für "+name)
		link := helga.value("link")
		if !strings.HasPrefix(link, srv.URL+"/invite/") {
			helga.fatalf("invitation link %q, want it under %s/invite/", link, srv.URL)
		}
		helga.wantText(`//table//tr[td[normalize-space()="`+email+`"]]`, "eingeladen")
		return link
	}
	annaLink := invite("Anna", "anna@example.org")
	benLink := invite("Ben", "ben@example.org")
	helga.screenshot("members-invitation")

	// 4. Anna, at her computer, accepts the invitation.
	anna, closeAnna := b.newPerson("Anna", false)
	defer closeAnna()
	e2eAcceptInvitation(anna, annaLink, password)

	// The accommodation ids, from the booking form's labels.
	anna.nav("/bookings/new", http.StatusOK)
	anna.wantText(`//main//h1`, "Neue Buchung")
	zimmer, zelt := e2ePersonsField(anna, "Zimmer 1"), e2ePersonsField(anna, "Zelt")

	// 5. Anna books two nights for two in Zimmer 1.
	anna.setField("arrival", arrival)
	anna.setField("departure", departure)
	anna.waitFor("the form shows 2 free beds in Zimmer 1",
		`document.getElementById("free-`+zimmer+`").textContent === "2 frei"`)
	anna.typeInto("persons-"+zimmer, "2")
	anna.click(`//main//button[normalize-space()="Buchung anfragen" and not(@hidden)]`, http.StatusOK)
	annaBooking := e2eBookingID(anna)
	anna.wantFlash("Deine Buchung ist angefragt und wartet auf Freigabe.")
	e2eBookingStatus(anna, "ausstehend")
	anna.wantText(`//dl[contains(@class,"facts")]`, "Zimmer 1: 2 Personen")

	// 6. Ben, on his phone, wants the same nights in Zimmer 1 and is
	// refused: the room is full. The form comes back as he filled it.
	ben, closeBen := b.newPerson("Ben", true)
	defer closeBen()
	e2eAcceptInvitation(ben, benLink, password)
	ben.nav("/bookings/new", http.StatusOK)
	ben.setField("arrival", arrival)
	ben.setField("departure", departure)
	ben.waitFor("the form shows Zimmer 1 as full",
		`document.getElementById("free-`+zimmer+`").textContent === "belegt"`)
	ben.typeInto("persons-"+zimmer, "1")
	ben.typeInto("persons-"+zelt, "2")
	ben.typeInto("notes", notes)
	ben.click(`//main//button[normalize-space()="Buchung anfragen" and not(@hidden)]`, http.StatusUnprocessableEntity)
	ben.wantPath("/bookings")
	// The summary of what is wrong has the focus (not the page's body), and
	// its line leads to the field.
	ben.wantText(`//main/div[@role="alert" and contains(@class,"error-summary")]`, "Die Buchung ist so nicht möglich.")
	if got := e2eFocusSettles(ben, "error-summary"); got != "error-summary" {
		ben.fatalf("after the refusal the focus is on an element of class %q, want the error summary", got)
	}
	ben.wantText(`//div[contains(@class,"error-summary")]//a[@href="#persons-`+zimmer+`"]`, "Zimmer 1")
	msg := ben.text(`//p[@id="persons-` + zimmer + `-error"]`)
	for _, want := range []string{"Zimmer 1", "14.08.", "belegt"} {
		if !strings.Contains(msg, want) {
			ben.fatalf("error next to Zimmer 1: %q, want it to contain %q", msg, want)
		}
	}
	// "Next to the field": in the same choice, and tied to the input for
	// screen readers.
	if !e2eJS[bool](ben, `(function () {
		const input = document.getElementById("persons-`+zimmer+`");
		const err = document.getElementById("persons-`+zimmer+`-error");
		return input.closest(".choice") === err.closest(".choice") &&
			input.getAttribute("aria-invalid") === "true" &&
			input.getAttribute("aria-describedby").split(" ").includes(err.id);
	})()`) {
		ben.fatalf("the capacity error is not tied to the Zimmer 1 field")
	}
	if e2eJS[bool](ben, `document.getElementById("persons-`+zelt+`-error") !== null`) {
		ben.fatalf("the tent, which has room, shows an error too")
	}
	for id, want := range map[string]string{
		"arrival": arrival, "departure": departure,
		"persons-" + zimmer: "1", "persons-" + zelt: "2", "notes": notes,
	} {
		if got := ben.value(id); got != want {
			ben.fatalf("after the refusal #%s holds %q, want %q (the input must be kept)", id, got, want)
		}
	}
	if cur := e2eJS[string](ben, `(document.querySelector('header a[aria-current="page"]') || {}).getAttribute?.("href") || ""`); cur != "/bookings/new" {
		ben.fatalf("the menu marks %q as the current page on the refused form, want /bookings/new", cur)
	}
	ben.screenshot("booking-form-refused")
	// Ben takes the tent alone instead.
	ben.setField("persons-"+zimmer, "")
	ben.click(`//main//button[normalize-space()="Buchung anfragen" and not(@hidden)]`, http.StatusOK)
	benBooking := e2eBookingID(ben)
	ben.wantFlash("Deine Buchung ist angefragt und wartet auf Freigabe.")
	ben.wantText(`//dl[contains(@class,"facts")]`, "Zelt: 2 Personen")

	// 7. Helga logs out and in again, and accepts Anna's booking.
	helga.logOut(http.StatusOK)
	helga.wantPath("/login")
	helga.wantFlash("Du bist abgemeldet.")
	helga.screenshot("login")
	helga.typeInto("email", "helga@example.org")
	helga.typeInto("password", password)
	helga.click(`//main//button[normalize-space()="Anmelden"]`, http.StatusOK)
	helga.wantPath("/calendar")
	helga.wantText(`//header//a[@href="/admin"]//span[contains(@class,"badge")]`, "2")
	helga.nav("/admin", http.StatusOK)
	helga.wantText(`//main//h2`, "Buchungen warten auf Freigabe (2)")
	helga.screenshot("admin-dashboard")
	helga.click(`//ul[contains(@class,"decisions")]/li[a[@href="/bookings/`+annaBooking+`"]]//button[normalize-space()="Annehmen"]`, http.StatusOK)
	helga.wantPath("/admin")
	helga.wantFlash("Die Buchung ist angenommen.")
	helga.wantText(`//main//h2`, "Buchungen warten auf Freigabe (1)")
	if e2eJS[bool](helga, `document.querySelector('.decisions a[href="/bookings/`+annaBooking+`"]') !== null`) {
		helga.fatalf("Anna's booking is still waiting after it was accepted")
	}
	// Ben's booking, as the administrator sees it: accept or reject.
	helga.click(`//ul[contains(@class,"decisions")]/li/a[@href="/bookings/`+benBooking+`"]`, http.StatusOK)
	e2eBookingStatus(helga, "ausstehend")
	helga.wantText(`//main//form[@action="/bookings/`+benBooking+`/reject"]`, "Begründung")
	helga.screenshot("booking-decide")

	// 8. Anna sees her booking accepted in the calendar; Ben's still waits.
	anna.nav("/calendar", http.StatusOK)
	anna.wantText(`//main//h1`, "August 2026")
	classes := func(id string) []string {
		return e2eJS[[]string](anna, `[...document.querySelectorAll('table.month a.bk[href="/bookings/`+id+`"]')].map(a => a.className)`)
	}
	if got := classes(annaBooking); len(got) != 2 || strings.Contains(strings.Join(got, " "), "pending") {
		anna.fatalf("calendar entries of Anna's booking: %q, want two nights, not pending", got)
	}
	if got := classes(benBooking); len(got) != 2 || !strings.Contains(got[0], "pending") {
		anna.fatalf("calendar entries of Ben's booking: %q, want two nights, pending", got)
	}
	anna.screenshot("calendar")
	anna.click(`//table[contains(@class,"month")]//a[@href="/bookings/`+annaBooking+`"]`, http.StatusOK)
	anna.wantPath("/bookings/" + annaBooking)
	e2eBookingStatus(anna, "angenommen")
	anna.wantText(`//ol[contains(@class,"timeline")]`, "Angenommen von Helga")
	anna.screenshot("booking-accepted")

	// 9. Anna cancels, after a confirmation.
	anna.click(`//main//a[@href="/bookings/`+annaBooking+`/cancel"]`, http.StatusOK)
	anna.wantText(`//main//h1`, "Buchung stornieren?")
	anna.screenshot("cancel-confirm")
	anna.click(`//main//button[normalize-space()="Ja, stornieren"]`, http.StatusOK)
	anna.wantPath("/bookings/" + annaBooking)
	anna.wantFlash("Die Buchung ist storniert.")
	e2eBookingStatus(anna, "storniert")
	anna.wantText(`//ol[contains(@class,"timeline")]`, "Storniert von Anna")
	if e2eJS[bool](anna, `document.querySelector('a[href$="/cancel"]') !== null`) {
		anna.fatalf("a cancelled booking still offers to cancel it")
	}
	anna.screenshot("booking-cancelled")

	b.checkClean()
	t.Logf("story done in %s; screenshots:\n  %s", time.Since(started).Round(time.Millisecond), strings.Join(b.saved, "\n  "))
}

// e2eServer is the real server on 127.0.0.1 with a real database and a
// fixed clock: "today" is Saturday, 1 August 2026, 10:00 in Berlin. backups
// (may be nil: replication off) feeds the Backups page.
func e2eServer(t *testing.T, ctx context.Context, backups handlers.BackupStatus) (*httptest.Server, *store.Store) {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, time.August, 1, 10, 0, 0, 0, berlin)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "booking.db"), store.Options{
		Now:      func() time.Time { return now },
		TimeZone: berlin,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := handlers.New(handlers.Config{
		Store:   st,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Version: "e2e",
		Started: time.Now(),
		Backups: backups,
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, st
}

// e2eAcceptInvitation opens an invitation link in p's browser and sets the
// password; the member lands in the calendar, logged in.
func e2eAcceptInvitation(p *e2ePerson, link, password string) {
	p.t.Helper()
	p.open(link, http.StatusOK)
	p.wantText(`//main//h1`, "Einladung annehmen")
	p.wantText(`//main//form`, strings.ToLower(p.name)+"@example.org")
	p.typeInto("password", password)
	p.typeInto("password2", password)
	p.click(`//main//button[@type="submit"]`, http.StatusOK)
	p.wantPath("/calendar")
	p.wantFlash("Willkommen! Dein Passwort ist gespeichert.")
}

// e2ePersonsField returns the accommodation id of the persons field labelled
// name on the booking form.
func e2ePersonsField(p *e2ePerson, name string) string {
	p.t.Helper()
	id := e2eJS[string](p, `(function (name) {
		const l = [...document.querySelectorAll(".choice label")].find(l => l.firstChild.textContent.trim() === name);
		return l ? l.htmlFor : "";
	})(`+e2eQuote(name)+`)`)
	acc, ok := strings.CutPrefix(id, "persons-")
	if _, err := strconv.Atoi(acc); !ok || err != nil {
		p.fatalf("no persons field for %q on the booking form (label for %q)", name, id)
	}
	return acc
}

// e2eBookingID reads the id of the booking page p is on.
func e2eBookingID(p *e2ePerson) string {
	p.t.Helper()
	path := p.path()
	id, ok := strings.CutPrefix(path, "/bookings/")
	if _, err := strconv.Atoi(id); !ok || err != nil {
		p.fatalf("on %s, want a booking page", path)
	}
	return id
}

// e2eBookingStatus checks the status shown on a booking page.
func e2eBookingStatus(p *e2ePerson, want string) {
	p.t.Helper()
	if got := p.text(`//dl[contains(@class,"facts")]//span[contains(@class,"status")]`); got != want {
		p.fatalf("booking status %q, want %q", got, want)
	}
}
