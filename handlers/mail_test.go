package handlers_test

import (
	"context"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"booking/e2e"
	"booking/handlers"
	"booking/mailer"
	"booking/store"
)

const testBaseURL = "http://gartenhaus.test:8080"

// withMail runs a mail sender against srv for the server under test.
func withMail(t testing.TB, srv *e2e.SMTPServer) func(*store.Store, *handlers.Config) {
	return func(st *store.Store, cfg *handlers.Config) {
		smtp, err := mailer.ParseSMTPURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		s, err := mailer.New(mailer.Config{SMTP: smtp, From: &mail.Address{Name: "Gartenhaus", Address: "haus@example.org"},
			BaseURL: testBaseURL, Retry: []time.Duration{time.Hour}, Words: handlers.MailWords, Logger: cfg.Logger}, st)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { s.Run(ctx) })
		t.Cleanup(func() { cancel(); wg.Wait() })
		cfg.Mail, cfg.BaseURL = s, testBaseURL
	}
}

var resetLink = regexp.MustCompile(regexp.QuoteMeta(testBaseURL) + `/reset/([A-Za-z0-9]+)`)

func TestForgotPasswordByMail(t *testing.T) {
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	e := newEnvConfigured(t, func(st *store.Store, cfg *handlers.Config) {
		withMail(t, srv)(st, cfg)
		// The login forms' limit, as small as the test can show it.
		cfg.LoginRate, cfg.LoginBurst = time.Minute, 5
	})
	c := e.client()
	r := c.get("/forgot")
	wantStatus(t, r, http.StatusOK)
	if r.doc.Find(`form[action="/forgot"] input[name="email"]`).Length() != 1 {
		t.Fatalf("no form on the forgot page:\n%s", r.body)
	}
	known := c.post("/forgot", url.Values{"email": {"anna@example.org"}})
	unknown := c.post("/forgot", url.Values{"email": {"niemand@example.org"}})
	wantStatus(t, known, http.StatusOK)
	wantStatus(t, unknown, http.StatusOK)
	// The same answer whether the address has an account or not.
	if a, b := known.text("main"), strings.ReplaceAll(unknown.text("main"), "niemand@", "anna@"); a != b || !strings.Contains(a, "Wenn es zu anna@example.org ein Konto gibt") {
		t.Errorf("the answers differ:\n%s\n---\n%s", a, b)
	}
	m := srv.WaitFor(1, 10*time.Second)[0]
	if m.To[0] != "anna@example.org" || m.Subject != "Neues Passwort für „Gartenhaus“" {
		t.Errorf("reset mail to %v: %q", m.To, m.Subject)
	}
	link := resetLink.FindStringSubmatch(m.Text)
	if link == nil || !strings.Contains(m.Text, "gilt bis 01.08.2026 11:00") {
		t.Fatalf("no reset link valid until 11:00 in:\n%s", m.Text)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d mails for one known and one unknown address", n)
	}
	// The link opens the form and sets the password, once.
	path := "/reset/" + link[1]
	wantStatus(t, c.get(path), http.StatusOK)
	res := c.post(path, url.Values{"email": {"anna@example.org"}, "password": {"ein neues Passwort"}, "password2": {"ein neues Passwort"}})
	wantRedirect(t, res, "/calendar")
	wantStatus(t, e.client().get(path), http.StatusGone)
	if _, err := e.st.Authenticate(context.Background(), "anna@example.org", "ein neues Passwort"); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
	// A link lives an hour.
	c.post("/forgot", url.Values{"email": {"ben@example.org"}})
	m = srv.WaitFor(2, 10*time.Second)[1]
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(61 * time.Minute)
	e.clock.mu.Unlock()
	wantStatus(t, e.client().get("/reset/"+resetLink.FindStringSubmatch(m.Text)[1]), http.StatusGone)
	// Every request counts against the client's attempts, known addresses
	// or not (the successful reset above gave its attempt back): five here.
	for range 2 {
		wantStatus(t, c.post("/forgot", url.Values{"email": {"x@example.org"}}), http.StatusOK)
	}
	r = c.post("/forgot", url.Values{"email": {"anna@example.org"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
}

// TestRegistrationTellsTheOwner (finding 10): with mail on, a registration
// with the address of an account answers exactly as one with a new
// address, and the owner hears of it by mail, in the owner's language (not
// the stranger's), at most once an hour.
func TestRegistrationTellsTheOwner(t *testing.T) {
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	e := newEnvConfigured(t, withMail(t, srv))
	e.setSelfRegistration(t, true)
	ctx := context.Background()
	if err := e.st.UpdateProfile(ctx, e.ben.ID, e.ben.Name, "en"); err != nil {
		t.Fatal(err)
	}
	register := func(c *client, name, email string) *response {
		t.Helper()
		r := c.post("/register", url.Values{"name": {name}, "email": {email}, "password": {"Kirschbaum7x"}, "password2": {"Kirschbaum7x"}})
		wantRedirect(t, r, "/login")
		return r
	}
	sameAnswer := func(fresh, existing *client, a, b *response) {
		t.Helper()
		if a.StatusCode != b.StatusCode || a.Header.Get("Location") != b.Header.Get("Location") {
			t.Errorf("new address: %d %q; existing: %d %q", a.StatusCode, a.Header.Get("Location"), b.StatusCode, b.Header.Get("Location"))
		}
		if sessionCookie(fresh) != "" || sessionCookie(existing) != "" {
			t.Errorf("a registration logged someone in")
		}
		if fa, fb := fresh.get("/login").text(".flash"), existing.get("/login").text(".flash"); fa != fb || fa == "" {
			t.Errorf("flash for a new address %q, for an existing one %q", fa, fb)
		}
	}
	// mailTo waits for the nth mail and returns the one to address.
	mailTo := func(n int, address string) *e2e.Received {
		t.Helper()
		for _, m := range srv.WaitFor(n, 10*time.Second) {
			if len(m.To) == 1 && m.To[0] == address {
				return m
			}
		}
		t.Fatalf("no mail to %s among %d", address, n)
		return nil
	}

	fresh, existing := e.client(), e.client()
	sameAnswer(fresh, existing, register(fresh, "Dora", "dora@example.org"), register(existing, "Dieter", "Anna@Example.org"))
	// Dora's registration tells the administrator; Anna's tells Anna.
	m := mailTo(2, "anna@example.org")
	if m.Subject != "Anmeldung mit deiner E-Mail-Adresse bei „Gartenhaus“" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hallo Anna,", "hat sich nichts geändert", "Zeitpunkt: 01.08.2026 10:00", "Neues Passwort anfordern:\n" + testBaseURL + "/forgot"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the mail lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `href="`+testBaseURL+`/forgot"`) || strings.Contains(m.Text+m.HTML, "Dieter") {
		t.Errorf("the HTML part lacks the link, or a part names the stranger:\n%s", m.HTML)
	}
	// The link leads to the form that mails a reset link.
	if r := e.client().get("/forgot"); r.doc.Find(`form[action="/forgot"] input[name="email"]`).Length() != 1 {
		t.Errorf("the mail's link has no reset form:\n%s", r.body)
	}

	// Half an hour later: the same answer again, and no second mail.
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(30 * time.Minute)
	e.clock.mu.Unlock()
	fresh, existing = e.client(), e.client()
	sameAnswer(fresh, existing, register(fresh, "Emil", "emil@example.org"), register(existing, "Dieter", "anna@example.org"))
	if m := srv.WaitFor(3, 10*time.Second)[2]; m.Subject != "Neues Konto wartet auf Freigabe: Emil" {
		t.Errorf("third mail to %v: %q, want only Emil's to the administrator", m.To, m.Subject)
	}

	// Ben reads English; the stranger's browser speaks German.
	register(e.client(), "Dieter", "ben@example.org")
	m = mailTo(4, "ben@example.org")
	if m.Subject != "Registration with your email address at “Gartenhaus”" || !strings.Contains(m.Text, "When: Aug 1, 2026 10:30 AM") {
		t.Errorf("the mail to Ben: %q\n%s", m.Subject, m.Text)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.Messages()); n != 4 {
		var got []string
		for _, m := range srv.Messages() {
			got = append(got, m.To[0]+": "+m.Subject)
		}
		t.Errorf("%d mails, want 4: %q", n, got)
	}
}

func TestForgotWithoutMail(t *testing.T) {
	e := newEnv(t)
	r := e.client().get("/forgot")
	wantStatus(t, r, http.StatusOK)
	if r.doc.Find("form").Length() != 1 || !strings.Contains(r.text("main"), "Bitte eine Administratorin") {
		t.Errorf("without mail the page must say to ask an administrator:\n%s", r.text("main"))
	}
	wantStatus(t, e.client().post("/forgot", url.Values{"email": {"anna@example.org"}}), http.StatusNotFound)
	if n, _ := e.st.CountMailQueued(context.Background()); n != 0 {
		t.Errorf("mail queued without a server")
	}
}

func TestInvitationByMail(t *testing.T) {
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	e := newEnvConfigured(t, withMail(t, srv))
	oma := e.as(e.admin)
	r := oma.get("/admin/members")
	if box := r.doc.Find(`input[name="send_mail"][checked]`); box.Length() != 1 {
		t.Fatalf("no ticked 'send by mail' on the invitation form")
	}
	r = oma.post("/admin/members", url.Values{"name": {"Cleo"}, "email": {"cleo@example.org"}, "role": {"member"}, "send_mail": {"1"}})
	wantStatus(t, r, http.StatusOK)
	link, _ := r.doc.Find("#link").Attr("value")
	if !strings.Contains(r.text(".linkbox"), "per Mail an cleo@example.org unterwegs") || !strings.Contains(link, "/invite/") {
		t.Fatalf("invitation page: %q, link %q", r.text(".linkbox"), link)
	}
	m := srv.WaitFor(1, 10*time.Second)[0]
	token := link[strings.LastIndex(link, "/")+1:]
	if m.To[0] != "cleo@example.org" || m.Subject != "Einladung: Gartenhaus" || !strings.Contains(m.Text, testBaseURL+"/invite/"+token) {
		t.Errorf("invitation mail to %v %q:\n%s", m.To, m.Subject, m.Text)
	}
	// Without the tick: only the link to copy.
	oma.post("/admin/members", url.Values{"name": {"Dora"}, "email": {"dora@example.org"}, "role": {"member"}})
	dora, _ := e.st.UserByEmail(context.Background(), "dora@example.org")
	// A new invitation by mail for Dora.
	r = oma.post("/admin/members/"+strconvID(dora.ID)+"/link", url.Values{"send_mail": {"1"}})
	wantStatus(t, r, http.StatusOK)
	m = srv.WaitFor(2, 10*time.Second)[1]
	if m.To[0] != "dora@example.org" {
		t.Errorf("renewed invitation to %v", m.To)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d mails, want 2 (the unticked invitation sends none)", n)
	}
}

func TestProfileMailChoices(t *testing.T) {
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	e := newEnvConfigured(t, withMail(t, srv))
	anna := e.as(e.anna)
	r := anna.get("/profile")
	boxes := r.doc.Find(`#mail input[type="checkbox"]`)
	if boxes.Length() != 3 || r.doc.Find(`#mail input[checked]`).Length() != 3 {
		t.Fatalf("a member chooses 3 kinds, all on at first: %d", boxes.Length())
	}
	checkLabels(t, r)
	wantRedirect(t, anna.post("/profile/mail", url.Values{"mail.booking_rejected": {"1"}, "mail.booking_cancelled": {"1"}}), "/profile")
	r = anna.get("/profile")
	if r.doc.Find(`#mail-booking_accepted[checked]`).Length() != 0 || r.doc.Find(`#mail-booking_rejected[checked]`).Length() != 1 {
		t.Errorf("choices not kept")
	}
	if off, _ := e.st.MailOptOuts(context.Background(), e.anna.ID); !off[store.MailBookingAccepted] || len(off) != 1 {
		t.Errorf("opt-outs %v", off)
	}
	if n := e.as(e.admin).get("/profile").doc.Find(`#mail input[type="checkbox"]`).Length(); n != 7 {
		t.Errorf("an administrator chooses among %d kinds, want 7", n)
	}
	// Without mail the section says so.
	plain := newEnv(t)
	if txt := plain.as(plain.anna).get("/profile").text("#mail"); !strings.Contains(txt, "ausgeschaltet") {
		t.Errorf("profile without mail: %q", txt)
	}
}

func TestSettingsMailSection(t *testing.T) {
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{User: "haus", Password: "sehr-geheim"})
	// Mail off first.
	plain := newEnv(t)
	r := plain.as(plain.admin).get("/admin/settings")
	if !strings.Contains(r.text("#mail"), "ausgeschaltet") || r.doc.Find(`form[action="/admin/settings/mail/test"]`).Length() != 0 {
		t.Errorf("settings without mail:\n%s", r.text("#mail"))
	}

	e := newEnvConfigured(t, func(st *store.Store, cfg *handlers.Config) {
		withMail(t, srv)(st, cfg)
	})
	oma := e.as(e.admin)
	r = oma.get("/admin/settings")
	wantStatus(t, r, http.StatusOK)
	checkLabels(t, r)
	facts := r.text("#mail dl")
	for _, want := range []string{srv.Addr, "keine (lokales Relay)", "haus", "gesetzt (wird nicht angezeigt)", `"Gartenhaus" <haus@example.org>`, testBaseURL, "1h"} {
		if !strings.Contains(facts, want) {
			t.Errorf("settings lack %q:\n%s", want, facts)
		}
	}
	if strings.Contains(r.body, "sehr-geheim") {
		t.Errorf("the SMTP password is on the page")
	}
	// A bad address stays in the form with its error.
	r = oma.post("/admin/settings/mail/test", url.Values{"to": {"kein mail"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if v, _ := r.doc.Find("#to").Attr("value"); v != "kein mail" || r.text("#to-error") == "" {
		t.Errorf("refused test mail: value %q error %q", v, r.text("#to-error"))
	}
	// The server offers no login on a plain connection, so the attempt
	// fails, and the outbox shows why and when it tries again.
	wantRedirect(t, oma.post("/admin/settings/mail/test", url.Values{"to": {"oma@example.org"}}), "/admin/settings")
	var row string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		row = oma.get("/admin/settings").text(".outbox tbody tr")
		if strings.Contains(row, "1 Versuch") {
			break
		}
	}
	if !strings.Contains(row, "Testmail") || !strings.Contains(row, "oma@example.org") || !strings.Contains(row, "wartet") ||
		!strings.Contains(row, "does not support SMTP AUTH") || !strings.Contains(row, "nächster Versuch 01.08.2026 11:00") {
		t.Errorf("outbox row: %q", row)
	}
	if len(srv.Messages()) != 0 {
		t.Fatalf("delivered without a login")
	}
}

func TestSendAgain(t *testing.T) {
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	srv.FailNext(1, 550, "5.1.1 No such user")
	e := newEnvConfigured(t, withMail(t, srv))
	oma := e.as(e.admin)
	wantRedirect(t, oma.post("/admin/settings/mail/test", url.Values{"to": {"opa@example.org"}}), "/admin/settings")
	var r *response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r = oma.get("/admin/settings")
		if strings.Contains(r.text(".outbox"), "fehlgeschlagen") {
			break
		}
	}
	if out := r.text(".outbox"); !strings.Contains(out, "550") || !strings.Contains(out, "5.1.1 No such user") {
		t.Fatalf("the failed mail does not show the answer: %q", r.text(".outbox"))
	}
	action, ok := r.doc.Find(`.outbox form[action$="/again"]`).Attr("action")
	if !ok {
		t.Fatal("no 'send again' for the failed mail")
	}
	wantStatus(t, e.as(e.anna).post(action, nil), http.StatusForbidden)
	wantRedirect(t, oma.post(action, nil), "/admin/settings")
	m := srv.WaitFor(1, 10*time.Second)[0]
	if m.To[0] != "opa@example.org" {
		t.Errorf("sent again to %v", m.To)
	}
	// Once it waits, it cannot be sent again twice.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r = oma.get("/admin/settings"); strings.Contains(r.text(".outbox"), "verschickt") {
			break
		}
	}
	if !strings.Contains(r.text(".outbox"), "verschickt") {
		t.Errorf("outbox after sending again: %q", r.text(".outbox"))
	}
}
