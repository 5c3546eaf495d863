package e2e

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The address the family reaches the server at, as -base-url says; the
// tests follow links from mails by putting the real address in its place.
const mailBaseURL = "http://gartenhaus.test:8080"

// mailSite is a site whose server mails through srv.
func mailSite(t *testing.T, smtpURL string, extraEnv ...string) *site {
	s := newSite(t, nil)
	s.env = append([]string{"BOOKING_SMTP_URL=" + smtpURL, "BOOKING_MAIL_FROM=Gartenhaus <haus@gartenhaus.example>"}, extraEnv...)
	return s
}

// page posts a form and returns the status, the Location and the body.
func (m *browserSession) page(path string, form url.Values) (int, string, string) {
	m.t.Helper()
	res, err := m.client.PostForm(m.base+path, form)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// mailLog checks the mails one by one as they arrive.
type mailLog struct {
	t   *testing.T
	srv *SMTPServer
	n   int
}

// next waits for the next mail and checks its recipient and subject.
func (l *mailLog) next(to, subject string) *Received {
	l.t.Helper()
	l.n++
	m := l.srv.WaitFor(l.n, 15*time.Second)[l.n-1]
	if len(m.To) != 1 || m.To[0] != to || m.Subject != subject {
		l.t.Errorf("mail %d: to %v %q, want to %s %q", l.n, m.To, m.Subject, to, subject)
	}
	if !m.TLS {
		l.t.Errorf("mail %d came without TLS", l.n)
	}
	return m
}

// linkIn finds the link to path in a mail (from -base-url, in both parts)
// and returns it pointing at the real server.
func linkIn(t *testing.T, m *Received, path, base string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(mailBaseURL+path) + `[A-Za-z0-9/]*`)
	link := re.FindString(m.Text)
	if link == "" || !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Fatalf("no %s link in %q:\n%s", path, m.Subject, m.Text)
	}
	return base + strings.TrimPrefix(link, mailBaseURL)
}

func dbID(t *testing.T, s *site, query string, args ...any) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.dbPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	if err := db.QueryRow(query, args...).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMailAndFeedsStory is the family's story with the real binary mailing
// through a real SMTP server on loopback (STARTTLS with a test certificate
// and a login): an invitation by mail, bookings accepted, changed, rejected
// with a reason and cancelled, a registration approved, a test mail and a
// forgotten password; every mail arrives once, to the right person, in
// German, with a working link from -base-url. Then Debian's
// python3-icalendar reads the member's feeds. The mails and the feed are
// in the test's log (go test -v -run MailAndFeedsStory ./e2e/).
func TestMailAndFeedsStory(t *testing.T) {
	RequireICalendar(t)
	serverTLS, _, caFile := SMTPCertificate(t)
	smtp := StartSMTP(t, SMTPOptions{TLS: serverTLS, User: "haus@gartenhaus.example", Password: "Kennwort:123"})
	s := mailSite(t, "smtp://haus%40gartenhaus.example:Kennwort%3A123@"+smtp.Addr+"?tls=starttls", "SSL_CERT_FILE="+caFile)
	s.addAdmin()
	srv := s.start("-base-url", mailBaseURL, "-mail-retry", "200ms,400ms,800ms")
	mails := &mailLog{t: t, srv: smtp}
	oma := logInAs(t, srv.base, adminEmail, adminPassword)
	for _, acc := range []url.Values{{"name": {"Zimmer 1"}, "kind": {"room"}, "beds": {"2"}}, {"name": {"Zelt"}, "kind": {"tent"}, "beds": {"4"}}} {
		if res := oma.post("/admin/accommodations", acc); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("accommodation: %d", res.StatusCode)
		}
	}
	room := dbID(t, s, `SELECT id FROM accommodations WHERE name = 'Zimmer 1'`)
	tent := dbID(t, s, `SELECT id FROM accommodations WHERE name = 'Zelt'`)
	day := func(n int) string { return time.Now().In(houseZone).AddDate(0, 0, n).Format("2006-01-02") }
	short := func(n int) string { return time.Now().In(houseZone).AddDate(0, 0, n).Format("02.01.") }

	// An invitation by mail; Anna joins through its link.
	status, _, body := oma.page("/admin/members", url.Values{"name": {"Anna Müller"}, "email": {"anna@example.org"}, "role": {"member"}, "send_mail": {"1"}})
	if status != http.StatusOK || !strings.Contains(body, "per Mail an anna@example.org unterwegs") {
		t.Fatalf("invitation: %d", status)
	}
	m := mails.next("anna@example.org", "Einladung: Gartenhaus")
	invite := linkIn(t, m, "/invite/", srv.base)
	res, err := http.Get(invite)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the invitation link: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	annaPW := "Sonnenblume im Garten"
	if res := oma.postAnon(invite, url.Values{"password": {annaPW}, "password2": {annaPW}}); res != http.StatusSeeOther {
		t.Fatalf("accepting the invitation: %d", res)
	}
	mails.next(adminEmail, "Anna Müller ist dabei")
	anna := logInAs(t, srv.base, "anna@example.org", annaPW)

	// A request, accepted; changed, so it waits again; accepted again.
	book := func(from, to int, acc int64, persons, notes string) int64 {
		t.Helper()
		status, loc, _ := anna.page("/bookings", url.Values{"arrival": {day(from)}, "departure": {day(to)}, fmt.Sprintf("persons.%d", acc): {persons}, "notes": {notes}})
		id, err := parseID(loc)
		if status != http.StatusSeeOther || err != nil {
			t.Fatalf("booking: %d %q", status, loc)
		}
		return id
	}
	b1 := book(10, 12, room, "2", "Wir bringen Kuchen mit, und den Hund; geht das?")
	m = mails.next(adminEmail, "Neue Buchungsanfrage von Anna Müller: "+short(10)+"–"+short(12))
	if got := linkIn(t, m, "/bookings/", srv.base); got != srv.base+fmt.Sprintf("/bookings/%d", b1) {
		t.Errorf("link %s", got)
	}
	oma.post(fmt.Sprintf("/bookings/%d/accept", b1), nil)
	mails.next("anna@example.org", "Deine Buchung ist angenommen: "+short(10)+"–"+short(12))
	anna.post(fmt.Sprintf("/bookings/%d/edit", b1), url.Values{"arrival": {day(10)}, "departure": {day(13)}, fmt.Sprintf("persons.%d", room): {"2"},
		"notes": {"Wir bringen Kuchen mit, und den Hund; geht das?"}})
	m = mails.next(adminEmail, "Geänderte Buchungsanfrage von Anna Müller: "+short(10)+"–"+short(13))
	if !strings.Contains(m.Text, "Vorher: "+short(10)+"–"+short(12)) {
		t.Errorf("the change does not say what it was:\n%s", m.Text)
	}
	oma.post(fmt.Sprintf("/bookings/%d/accept", b1), nil)
	mails.next("anna@example.org", "Deine Buchung ist angenommen: "+short(10)+"–"+short(13))

	// A request rejected with a reason.
	b2 := book(20, 22, tent, "3", "")
	mails.next(adminEmail, "Neue Buchungsanfrage von Anna Müller: "+short(20)+"–"+short(22))
	oma.post(fmt.Sprintf("/bookings/%d/reject", b2), url.Values{"reason": {"Das Zelt ist dann schon verliehen, tut mir leid."}})
	m = mails.next("anna@example.org", "Deine Buchung ist abgelehnt: "+short(20)+"–"+short(22))
	if !strings.Contains(m.Text, "Begründung: Das Zelt ist dann schon verliehen, tut mir leid.") {
		t.Errorf("rejection without its reason:\n%s", m.Text)
	}

	// Cancelled by Anna: Oma hears; cancelled by Oma: Anna hears.
	anna.post(fmt.Sprintf("/bookings/%d/cancel", b1), nil)
	mails.next(adminEmail, "Buchung storniert: Anna Müller, "+short(10)+"–"+short(13))
	b3 := book(30, 31, room, "1", "")
	mails.next(adminEmail, "Neue Buchungsanfrage von Anna Müller: "+short(30)+"–"+short(31))
	oma.post(fmt.Sprintf("/bookings/%d/cancel", b3), nil)
	mails.next("anna@example.org", "Deine Buchung ist storniert: "+short(30)+"–"+short(31))

	// One stay accepted and one waiting, for the feeds.
	b4 := book(40, 43, tent, "2", "Zelt am Teich, bitte")
	mails.next(adminEmail, "Neue Buchungsanfrage von Anna Müller: "+short(40)+"–"+short(43))
	oma.post(fmt.Sprintf("/bookings/%d/accept", b4), nil)
	mails.next("anna@example.org", "Deine Buchung ist angenommen: "+short(40)+"–"+short(43))
	b5 := book(50, 52, room, "2", "")
	mails.next(adminEmail, "Neue Buchungsanfrage von Anna Müller: "+short(50)+"–"+short(52))

	// A forgotten password.
	status, _, body = oma.pageAnon("/forgot", url.Values{"email": {"anna@example.org"}})
	if status != 200 || !strings.Contains(body, "Wenn es zu anna@example.org ein Konto gibt") {
		t.Fatalf("forgot: %d", status)
	}
	m = mails.next("anna@example.org", "Neues Passwort für „Gartenhaus“")
	reset := linkIn(t, m, "/reset/", srv.base)
	newPW := "Regenbogen über dem Haus"
	if res := oma.postAnon(reset, url.Values{"password": {newPW}, "password2": {newPW}}); res != http.StatusSeeOther {
		t.Fatalf("reset: %d", res)
	}
	anna = logInAs(t, srv.base, "anna@example.org", newPW)

	// A registration waits, is approved.
	oma.post("/admin/settings", url.Values{"house_name": {"Gartenhaus"}, "time_zone": {"Europe/Berlin"}, "max_nights": {"30"}, "self_registration": {"1"}})
	if status, _, _ := oma.pageAnon("/register", url.Values{"name": {"Ben"}, "email": {"ben@example.org"}, "password": {"Apfelbaum 2026"}, "password2": {"Apfelbaum 2026"}}); status != http.StatusSeeOther {
		t.Fatalf("register: %d", status)
	}
	mails.next(adminEmail, "Neues Konto wartet auf Freigabe: Ben")
	ben := dbID(t, s, `SELECT id FROM users WHERE email = 'ben@example.org'`)
	oma.post(fmt.Sprintf("/admin/members/%d/state", ben), url.Values{"state": {"approved"}})
	mails.next("ben@example.org", "Dein Konto für „Gartenhaus“ ist freigegeben")

	// The test mail from the settings page, then the page shows it sent.
	oma.post("/admin/settings/mail/test", url.Values{"to": {adminEmail}})
	mails.next(adminEmail, "Testmail von „Gartenhaus“")
	waitForOutbox(t, s, "sent", mails.n)
	settings := oma.get("/admin/settings")
	if strings.Contains(settings, "Kennwort") || !strings.Contains(settings, "gesetzt (wird nicht angezeigt)") ||
		strings.Count(settings, `<span class="state mail-state">verschickt</span>`) != mails.n {
		t.Errorf("the settings page lists %d of %d mails as sent", strings.Count(settings, `<span class="state mail-state">verschickt</span>`), mails.n)
	}
	time.Sleep(300 * time.Millisecond)
	if got := len(smtp.Messages()); got != mails.n {
		t.Errorf("%d mails arrived, want %d", got, mails.n)
	}
	for i, m := range smtp.Messages() {
		for _, link := range regexp.MustCompile(`https?://[^\s"<>]+`).FindAllString(m.Text, -1) {
			if !strings.HasPrefix(link, mailBaseURL) {
				t.Errorf("mail %d links to %s", i+1, link)
			}
		}
		t.Logf("===== mail %d: To: %s\nSubject: %s\n\n%s", i+1, strings.Join(m.To, ", "), m.Subject, m.Text)
	}

	// The feeds: Anna's stays and the whole house.
	anna.post("/profile/feeds", nil)
	profile := anna.get("/profile")
	feeds := regexp.MustCompile(`value="(`+regexp.QuoteMeta(mailBaseURL)+`/feeds/[a-z0-9]+/(?:mine|house)\.ics)"`).FindAllStringSubmatch(profile, -1)
	if len(feeds) != 2 {
		t.Fatalf("feed addresses on the profile: %v", feeds)
	}
	want := map[int64]string{b1: "CANCELLED", b2: "CANCELLED", b3: "CANCELLED", b4: "CONFIRMED", b5: "TENTATIVE"}
	for _, f := range feeds {
		res, err := http.Get(srv.base + strings.TrimPrefix(f[1], mailBaseURL))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v", f[1], err)
		}
		ics, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cal := ParseICS(t, ics)
		if len(cal.Events) != len(want) {
			t.Errorf("%s: %d events, want %d", f[1], len(cal.Events), len(want))
		}
		for _, ev := range cal.Events {
			id, _ := parseID(strings.TrimPrefix(ev.URL, mailBaseURL))
			if ev.Status != want[id] || !ev.Start.AllDay || !ev.End.AllDay {
				t.Errorf("booking %d: %s (want %s), all-day %v %v", id, ev.Status, want[id], ev.Start.AllDay, ev.End.AllDay)
			}
		}
		t.Logf("===== %s\n%s", f[1][strings.LastIndex(f[1], "/")+1:], ics)
	}
}

// postAnon posts a form to an absolute URL without a session.
func (m *browserSession) postAnon(u string, form url.Values) int {
	m.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(u, form)
	if err != nil {
		m.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// pageAnon posts a form to one of the server's paths without a session.
func (m *browserSession) pageAnon(path string, form url.Values) (int, string, string) {
	m.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(m.base+path, form)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

func parseID(loc string) (int64, error) {
	var id int64
	_, err := fmt.Sscanf(loc, "/bookings/%d", &id)
	return id, err
}

// TestMailSurvivesKill9 kills the server with SIGKILL while mails are
// committed but not delivered: one is in the middle of DATA (the SMTP
// server has read it but not answered) and two more wait behind it. After
// the restart all three arrive; every mail the SMTP server acknowledged
// before the kill arrived once and is not sent again.
func TestMailSurvivesKill9(t *testing.T) {
	smtp := StartSMTP(t, SMTPOptions{})
	s := mailSite(t, smtp.URL())
	s.addAdmin()
	if out, errOut, code := s.run("Schneeglöckchen\n", "user", "add", "--email", "anna@example.org", "--name", "Anna"); code != 0 {
		t.Fatalf("user add: %s %s", out, errOut)
	}
	srv := s.start("-base-url", mailBaseURL, "-mail-retry", "100ms")
	oma := logInAs(t, srv.base, adminEmail, adminPassword)
	oma.addTent()
	anna := logInAs(t, srv.base, "anna@example.org", "Schneeglöckchen")
	anna.accID = oma.accID

	// Acknowledged: three bookings, three mails to Oma, accepted and
	// recorded as sent.
	for i := range 3 {
		anna.mustBook(i)
	}
	smtp.WaitFor(3, 15*time.Second)
	waitForOutbox(t, s, "sent", 3)

	// Committed, not delivered: the next mail is held in DATA, two more
	// wait behind it. Then SIGKILL.
	held := smtp.Hold()
	acked := map[int64]bool{}
	for i := 3; i < 6; i++ {
		acked[anna.mustBook(i)] = true
	}
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("no mail reached DATA")
	}
	srv.kill()
	smtp.Release()
	if n := len(smtp.Messages()); n != 3 {
		t.Fatalf("%d mails accepted before the restart, want 3", n)
	}
	if got := countOutbox(t, s, "queued"); got != 3 {
		t.Fatalf("%d mails queued in the killed server's database, want 3", got)
	}

	srv = s.start("-base-url", mailBaseURL, "-mail-retry", "100ms")
	got := smtp.WaitFor(6, 15*time.Second)
	time.Sleep(500 * time.Millisecond)
	got = smtp.Messages()
	if len(got) != 6 {
		t.Errorf("%d mails accepted in all, want 6", len(got))
	}
	ids := map[string]int{}
	links := map[string]bool{}
	for _, m := range got {
		ids[m.MessageID]++
		links[regexp.MustCompile(`/bookings/\d+`).FindString(m.Text)] = true
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("Message-ID %s accepted %d times", id, n)
		}
	}
	for id := range acked {
		if !links[fmt.Sprintf("/bookings/%d", id)] {
			t.Errorf("the mail about booking %d never arrived", id)
		}
	}
	waitForOutbox(t, s, "sent", 6)
	srv.stop()
}

func countOutbox(t *testing.T, s *site, status string) int {
	t.Helper()
	return int(dbID(t, s, `SELECT count(*) FROM outbox WHERE status = ?`, status))
}

func waitForOutbox(t *testing.T, s *site, status string, n int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if countOutbox(t, s, status) == n {
			return
		}
	}
	t.Fatalf("%d mails %s, want %d", countOutbox(t, s, status), status, n)
}
