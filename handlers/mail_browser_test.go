package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"booking/e2e"
)

// TestMailPagesInChromium opens the mail and feed parts of the pages in a
// real Chromium with JavaScript on (scripts hide and show things): the
// profile's mail choices and feed addresses with their copy buttons, the
// invitation by mail, the settings' mail section and test mail, and the
// forgot form. Screenshots go where the family story's go.
func TestMailPagesInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: not in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	smtp := e2e.StartSMTP(t, e2e.SMTPOptions{})
	e := newEnvConfigured(t, withMail(t, smtp))
	b, stop := e2eStartBrowser(t, ctx, e.srv.URL)
	defer stop()
	visible := func(p *e2ePerson, sel string) bool {
		return e2eJS[bool](p, `(function (el) { return !!el && !el.hidden && el.offsetParent !== null && getComputedStyle(el).visibility !== "hidden"; })(document.querySelector(`+e2eQuote(sel)+`))`)
	}
	login := func(p *e2ePerson, email string) {
		p.open(e.srv.URL+"/login", http.StatusOK)
		p.typeInto("email", email)
		p.typeInto("password", password)
		p.click(`//main//button[@type="submit"]`, http.StatusOK)
	}

	anna, closeAnna := b.newPerson("Anna", true)
	defer closeAnna()
	login(anna, e.anna.Email)
	anna.open(e.srv.URL+"/profile", http.StatusOK)
	for _, sel := range []string{"#mail-booking_accepted", "#mail-booking_rejected", "#mail-booking_cancelled"} {
		if !visible(anna, sel) {
			anna.fatalf("%s is not visible with JavaScript on", sel)
		}
	}
	anna.do("untick cancellations", chromedp.Click(chromedp.ID("mail-booking_cancelled")))
	anna.click(`//section[@id="mail"]//button[@type="submit"]`, http.StatusOK)
	anna.wantFlash("Gespeichert.")
	if e2eJS[bool](anna, `document.getElementById("mail-booking_cancelled").checked`) {
		anna.fatalf("the unticked choice came back ticked")
	}
	anna.click(`//section[@id="feeds"]//button[@type="submit"]`, http.StatusOK)
	anna.wantFlash("Deine Kalender-Adressen sind bereit. Frühere Adressen funktionieren nicht mehr.")
	for _, sel := range []string{`#feed-0`, `#feed-1`, `button[data-copy="feed-0"]`, `button[data-copy="feed-1"]`, `#feeds a[href^="webcal://"]`} {
		if !visible(anna, sel) {
			anna.fatalf("%s is not visible", sel)
		}
	}
	if v := anna.value("feed-0"); !strings.HasPrefix(v, testBaseURL+"/feeds/") {
		anna.fatalf("feed address %q", v)
	}
	anna.screenshot("profile-mail-feeds")

	oma, closeOma := b.newPerson("Oma", false)
	defer closeOma()
	login(oma, e.admin.Email)
	oma.open(e.srv.URL+"/admin/members", http.StatusOK)
	if !visible(oma, "#send_mail") || !e2eJS[bool](oma, `document.getElementById("send_mail").checked`) {
		oma.fatalf("the invitation by mail is not offered, ticked, with JavaScript on")
	}
	oma.open(e.srv.URL+"/admin/settings", http.StatusOK)
	for _, sel := range []string{"#mail dl", "#to", "#occupied_only"} {
		if !visible(oma, sel) {
			oma.fatalf("%s is not visible", sel)
		}
	}
	oma.click(`//form[@action="/admin/settings/mail/test"]//button`, http.StatusOK)
	oma.wantFlash("Die Testmail ist unterwegs. Was aus ihr wird, steht unten im Postausgang.")
	if m := smtp.WaitFor(1, 10*time.Second)[0]; m.To[0] != e.admin.Email {
		t.Errorf("test mail to %v", m.To)
	}
	oma.open(e.srv.URL+"/admin/settings", http.StatusOK)
	oma.wantText(`//table[contains(@class,"outbox")]//tbody/tr[1]`, "verschickt")
	oma.screenshot("settings-mail")

	guest, closeGuest := b.newPerson("Gast", true)
	defer closeGuest()
	guest.open(e.srv.URL+"/forgot", http.StatusOK)
	guest.typeInto("email", e.ben.Email)
	guest.click(`//main//button[@type="submit"]`, http.StatusOK)
	guest.wantText(`//main`, "Wenn es zu ben@example.org ein Konto gibt")
	guest.screenshot("forgot-sent")
	b.checkClean()
}
