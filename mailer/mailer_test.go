package mailer_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"booking/e2e"
	"booking/handlers"
	"booking/mailer"
	"booking/store"
)

const base = "http://gartenhaus.test:8080"

// fast is the retry schedule of the tests: the real one waits minutes.
var fast = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}

// family is a store on real time with an administrator (German) and two
// members, Anna (English) and Ben (German), and a room.
type family struct {
	st        *store.Store
	oma       *store.User
	anna, ben *store.User
	room      *store.Accommodation
	today     store.Date
}

func newFamily(t *testing.T) *family {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "booking.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &family{st: st, today: st.Today()}
	mk := func(email, name, role, lang string) *store.User {
		u, err := st.CreateUser(ctx, store.NewUser{Email: email, Name: name, Role: role, State: store.StateApproved, Language: lang})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.oma = mk("oma@example.org", "Oma", store.RoleAdmin, "de")
	f.anna = mk("anna@example.org", "Anna", store.RoleMember, "en")
	f.ben = mk("ben@example.org", "Ben", store.RoleMember, "")
	if f.room, err = st.CreateAccommodation(ctx, f.oma, store.AccommodationInput{Name: "Zimmer 1", Kind: "room", Beds: 4}); err != nil {
		t.Fatal(err)
	}
	return f
}

// startSender runs a sender against srv until the test ends or it is
// stopped.
func startSender(t *testing.T, st *store.Store, srv *e2e.SMTPServer, edit func(*mailer.Config)) *runningSender {
	t.Helper()
	smtp, err := mailer.ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := mailer.Config{SMTP: smtp, From: &mail.Address{Name: "Gartenhaus", Address: "haus@example.org"}, BaseURL: base,
		Retry: fast, Timeout: 5 * time.Second, Words: handlers.MailWords, Logger: testLogger(t)}
	if edit != nil {
		edit(&cfg)
	}
	s, err := mailer.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	rs := &runningSender{Sender: s, stop: func() { cancel(); wg.Wait() }}
	t.Cleanup(rs.stop)
	return rs
}

type runningSender struct {
	*mailer.Sender
	stop func()
}

// metric reads a counter or gauge of the sender; reason selects a series
// of booking_mail_failed_total.
func metric(t *testing.T, s *runningSender, name, reason string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Sender)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() != reason {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s %s", name, reason)
	return 0
}

func waitForAttempts(t *testing.T, st *store.Store, id int64, n int) *store.Mail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m, err := st.Mail(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Attempts >= n {
			return m
		}
	}
	t.Fatalf("mail %d: fewer than %d attempts after 10 s", id, n)
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// MailDateShort is a date as the mails write it in a subject.
func MailDateShort(lang string, d store.Date) string { return handlers.MailWords(lang).DateShort(d) }

// testLogger logs to the test's output when it fails.
func testLogger(t *testing.T) *slog.Logger {
	logs := &e2e.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sender log:\n%s", logs)
		}
	})
	return slog.New(slog.NewTextHandler(logs, nil))
}

// waitForOutbox waits until mail id has status want.
func waitForOutbox(t *testing.T, st *store.Store, id int64, want string) *store.Mail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m, err := st.Mail(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == want {
			return m
		}
	}
	m, _ := st.Mail(context.Background(), id)
	t.Fatalf("mail %d is %s after 10 s (attempts %d, %q), want %s", id, m.Status, m.Attempts, m.LastError, want)
	return nil
}

func lastMailID(t *testing.T, st *store.Store) int64 {
	t.Helper()
	ms, err := st.Outbox(context.Background(), 1)
	if err != nil || len(ms) == 0 {
		t.Fatalf("the outbox is empty (%v)", err)
	}
	return ms[0].ID
}

// TestEachEventsMail goes through every change that mails and checks what
// arrives at a real SMTP server: the recipients, the language (the
// recipient's), the subject, the link (from the base URL) and both parts.
func TestEachEventsMail(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	startSender(t, f.st, srv, nil)
	settings := f.st.Settings().Input()
	settings.SelfRegistration = true
	if err := f.st.UpdateSettings(ctx, f.oma, settings); err != nil {
		t.Fatal(err)
	}
	item := []store.Item{{AccommodationID: f.room.ID, Persons: 2}}
	in := store.BookingInput{Arrival: f.today + 10, Departure: f.today + 12, Items: item, Notes: "Wir bringen Kuchen, Sahne; und Äpfel"}
	arr, dep := MailDateShort("de", in.Arrival), MailDateShort("de", in.Departure)
	arrEN, depEN := MailDateShort("en", in.Arrival), MailDateShort("en", in.Departure)
	n := 0
	expect := func(to, subject, link string) *e2e.Received {
		t.Helper()
		n++
		m := srv.WaitFor(n, 10*time.Second)[n-1]
		if len(m.To) != 1 || m.To[0] != to {
			t.Errorf("mail %d to %v, want %s", n, m.To, to)
		}
		if m.Subject != subject {
			t.Errorf("mail %d: subject %q, want %q", n, m.Subject, subject)
		}
		if link != "" && (!strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`)) {
			t.Errorf("mail %d lacks the link %s:\n%s", n, link, m.Text)
		}
		if m.From != "haus@example.org" || m.Header.Get("From") != `"Gartenhaus" <haus@example.org>` {
			t.Errorf("mail %d from %q / %q", n, m.From, m.Header.Get("From"))
		}
		if m.Header.Get("Auto-Submitted") != "auto-generated" || !strings.HasSuffix(m.MessageID, "@example.org>") {
			t.Errorf("mail %d headers: %v", n, m.Header)
		}
		return m
	}

	b, err := f.st.CreateBooking(ctx, f.anna, in)
	if err != nil {
		t.Fatal(err)
	}
	link := base + "/bookings/" + itoa(b.ID)
	m := expect("oma@example.org", "Neue Buchungsanfrage von Anna: "+arr+"–"+dep, link)
	for _, want := range []string{"Hallo Oma,", "Anna hat eine Buchung angefragt.", "Anreise: ", "Zimmer 1: 2 Personen",
		"Status: ausstehend", "Notizen: Wir bringen Kuchen, Sahne; und Äpfel", "Welche Mails du bekommst"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the request lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, "<th scope=\"row\"") || !strings.Contains(m.HTML, "Zimmer 1: 2 Personen") {
		t.Errorf("the HTML part:\n%s", m.HTML)
	}

	if err := f.st.AcceptBooking(ctx, f.oma, b.ID); err != nil {
		t.Fatal(err)
	}
	m = expect("anna@example.org", "Your booking is accepted: "+arrEN+"–"+depEN, link)
	if !strings.Contains(m.Text, "Oma has accepted your booking.") || !strings.Contains(m.Text, "Status: accepted") {
		t.Errorf("acceptance in English:\n%s", m.Text)
	}

	in.Departure++
	if _, err := f.st.UpdateBooking(ctx, f.anna, b.ID, in); err != nil {
		t.Fatal(err)
	}
	m = expect("oma@example.org", "Geänderte Buchungsanfrage von Anna: "+arr+"–"+MailDateShort("de", in.Departure), link)
	if !strings.Contains(m.Text, "Vorher: "+arr+"–"+dep+": Zimmer 1: 2 Personen") {
		t.Errorf("the change does not say what it was:\n%s", m.Text)
	}

	if err := f.st.RejectBooking(ctx, f.oma, b.ID, "Da ist schon die Hochzeit, sorry"); err != nil {
		t.Fatal(err)
	}
	m = expect("anna@example.org", "Your booking is rejected: "+arrEN+"–"+MailDateShort("en", in.Departure), link)
	if !strings.Contains(m.Text, "Reason: Da ist schon die Hochzeit, sorry") {
		t.Errorf("the rejection lacks its reason:\n%s", m.Text)
	}

	b2, err := f.st.CreateBooking(ctx, f.ben, store.BookingInput{Arrival: f.today + 20, Departure: f.today + 21, Items: item})
	if err != nil {
		t.Fatal(err)
	}
	expect("oma@example.org", "Neue Buchungsanfrage von Ben: "+MailDateShort("de", f.today+20)+"–"+MailDateShort("de", f.today+21), "")
	if err := f.st.CancelBooking(ctx, f.ben, b2.ID); err != nil {
		t.Fatal(err)
	}
	m = expect("oma@example.org", "Buchung storniert: Ben, "+MailDateShort("de", f.today+20)+"–"+MailDateShort("de", f.today+21),
		base+"/bookings/"+itoa(b2.ID))
	if !strings.Contains(m.Text, "Ben hat die Buchung storniert. Die Plätze sind wieder frei.") {
		t.Errorf("cancellation:\n%s", m.Text)
	}
	b3, _ := f.st.CreateBooking(ctx, f.ben, store.BookingInput{Arrival: f.today + 22, Departure: f.today + 23, Items: item})
	expect("oma@example.org", "Neue Buchungsanfrage von Ben: "+MailDateShort("de", f.today+22)+"–"+MailDateShort("de", f.today+23), "")
	if err := f.st.CancelBooking(ctx, f.oma, b3.ID); err != nil {
		t.Fatal(err)
	}
	m = expect("ben@example.org", "Deine Buchung ist storniert: "+MailDateShort("de", f.today+22)+"–"+MailDateShort("de", f.today+23), "")
	if !strings.Contains(m.Text, "Oma hat deine Buchung storniert.") {
		t.Errorf("cancellation by the administrator:\n%s", m.Text)
	}

	token, _, err := f.st.InviteByMail(ctx, f.oma, store.NewUser{Email: "cleo@example.org", Name: "Cleo", Role: store.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	m = expect("cleo@example.org", "Einladung: Gartenhaus", base+"/invite/"+token)
	if !strings.Contains(m.Text, "Oma lädt dich ins Buchungssystem „Gartenhaus“ ein.") || !strings.Contains(m.Text, "gilt bis") ||
		strings.Contains(m.Text, "Welche Mails") {
		t.Errorf("invitation:\n%s", m.Text)
	}
	if _, err := f.st.UseLink(ctx, token, store.PurposeInvite, "Apfelbaum im Garten"); err != nil {
		t.Fatal(err)
	}
	expect("oma@example.org", "Cleo ist dabei", base+"/admin/members")

	if err := f.st.RequestPasswordReset(ctx, "ben@example.org"); err != nil {
		t.Fatal(err)
	}
	id := lastMailID(t, f.st)
	queuedMail, _ := f.st.Mail(ctx, id)
	m = expect("ben@example.org", "Neues Passwort für „Gartenhaus“", base+"/reset/"+queuedMail.Data.Token)
	if !strings.Contains(m.Text, "ignoriere diese Mail") {
		t.Errorf("reset:\n%s", m.Text)
	}
	// Sent: the outbox no longer holds the link.
	if sent := waitForOutbox(t, f.st, id, store.MailSent); sent.Data.Token != "" {
		t.Errorf("the sent reset mail still holds its token")
	}

	u, err := f.st.Register(ctx, store.NewUser{Email: "dora@example.org", Name: "Dora", Password: "ein langes Passwort", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	expect("oma@example.org", "Neues Konto wartet auf Freigabe: Dora", base+"/admin")
	if err := f.st.SetUserState(ctx, f.oma, u.ID, store.StateApproved); err != nil {
		t.Fatal(err)
	}
	expect("dora@example.org", "Your account for “Gartenhaus” is approved", base+"/calendar")

	// Someone registers with Ben's address: Ben hears of it, with the way
	// to a new password.
	if _, err := f.st.Register(ctx, store.NewUser{Email: "ben@example.org", Name: "Fremd", Password: "ein langes Passwort"}); !errors.Is(err, store.ErrAccountExists) {
		t.Fatalf("registration with Ben's address: %v", err)
	}
	m = expect("ben@example.org", "Anmeldung mit deiner E-Mail-Adresse bei „Gartenhaus“", base+"/forgot")
	if !strings.Contains(m.Text, "hat sich nichts geändert") {
		t.Errorf("registration attempt:\n%s", m.Text)
	}

	if err := f.st.QueueTestMail(ctx, f.oma, "irgendwer@example.net"); err != nil {
		t.Fatal(err)
	}
	m = expect("irgendwer@example.net", "Testmail von „Gartenhaus“", base+"/admin/settings")
	if !strings.HasPrefix(m.Text, "Hallo,\n") {
		t.Errorf("test mail:\n%s", m.Text)
	}
	// Nothing more, and nothing twice.
	time.Sleep(100 * time.Millisecond)
	if got := len(srv.Messages()); got != n {
		t.Errorf("%d mails arrived, want %d", got, n)
	}
	for _, m := range srv.Messages() {
		if m.TLS {
			t.Errorf("TLS on a tls=none server")
		}
		if strings.Contains(m.Text, "mail.") || strings.Contains(m.HTML, "mail.") {
			t.Errorf("a catalogue key leaked into %q", m.Subject)
		}
	}
}

// TestStartTLS sends through a server that offers STARTTLS with a test
// certificate and wants a login over it. A sender that does not trust the
// certificate fails and keeps the mail for a retry.
func TestStartTLS(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	serverTLS, roots, _ := e2e.SMTPCertificate(t)
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{TLS: serverTLS, User: "haus@example.org", Password: "geheim:mit@zeichen"})
	smtp, err := mailer.ParseSMTPURL("smtp://haus%40example.org:geheim%3Amit%40zeichen@" + srv.Addr + "?tls=starttls")
	if err != nil {
		t.Fatal(err)
	}
	if smtp.User != "haus@example.org" || smtp.Password != "geheim:mit@zeichen" || smtp.TLS != mailer.TLSStartTLS {
		t.Fatalf("parsed %+v", smtp)
	}

	// First without trusting the test authority.
	untrusting := startSender(t, f.st, srv, func(c *mailer.Config) { c.SMTP = smtp; c.Retry = []time.Duration{time.Hour} })
	if err := f.st.QueueTestMail(ctx, f.oma, "x@example.org"); err != nil {
		t.Fatal(err)
	}
	id := lastMailID(t, f.st)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m, _ := f.st.Mail(ctx, id)
		if m.Attempts == 1 {
			if m.Status != store.MailQueued || !strings.Contains(m.LastError, "certificate") {
				t.Errorf("untrusted certificate: %s %q", m.Status, m.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempt")
		}
	}
	if got := metric(t, untrusting, "booking_mail_failed_total", "connection"); got != 1 {
		t.Errorf("failed{connection} = %v", got)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a mail went through an untrusted connection")
	}
	// The failed one waits an hour for its retry; a sender that trusts
	// the authority delivers the next one.
	untrusting.stop()
	trusting := startSender(t, f.st, srv, func(c *mailer.Config) {
		c.SMTP = smtp
		c.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	})
	if err := f.st.QueueTestMail(ctx, f.oma, "y@example.org"); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(1, 10*time.Second)[0]
	if !m.TLS || m.To[0] != "y@example.org" {
		t.Errorf("mail over STARTTLS: TLS %v to %v", m.TLS, m.To)
	}
	waitForOutbox(t, f.st, lastMailID(t, f.st), store.MailSent)
	if got := metric(t, trusting, "booking_mail_sent_total", ""); got != 1 {
		t.Errorf("sent = %v", got)
	}
	if s := trusting.MailSettings(); !s.PasswordSet || s.User != "haus@example.org" || s.TLS != "starttls" ||
		strings.Contains(strings.Join([]string{s.Server, s.From, s.User, s.BaseURL}, " "), "geheim") {
		t.Errorf("settings as shown: %+v", s)
	}
}

// TestRefusedThenAccepted: the server answers 451 to the first attempt
// and accepts the retry; the outbox shows the answer in between.
func TestRefusedThenAccepted(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	srv.FailNext(1, 451, "4.3.0 Mailbox busy, try again later")
	s := startSender(t, f.st, srv, func(c *mailer.Config) { c.Retry = []time.Duration{300 * time.Millisecond} })
	if err := f.st.QueueTestMail(ctx, f.oma, "x@example.org"); err != nil {
		t.Fatal(err)
	}
	id := lastMailID(t, f.st)
	m := waitForAttempts(t, f.st, id, 1)
	if m.Status != store.MailQueued || !strings.Contains(m.LastError, "451") || !strings.Contains(m.LastError, "Mailbox busy") {
		t.Errorf("after the refusal: %s %q", m.Status, m.LastError)
	}
	sent := waitForOutbox(t, f.st, id, store.MailSent)
	if sent.Attempts != 2 || sent.SentAt.Sub(m.NextAt) < 0 {
		t.Errorf("sent after %d attempts at %v (retry due %v)", sent.Attempts, sent.SentAt, m.NextAt)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("%d mails accepted, want 1", got)
	}
	if f, sent := metric(t, s, "booking_mail_failed_total", "temporary"), metric(t, s, "booking_mail_sent_total", ""); f != 1 || sent != 1 {
		t.Errorf("metrics: failed{temporary} %v sent %v", f, sent)
	}
}

// TestRejectedIsNotRetried: a 5xx answer is final; the mail is failed
// with the answer, until an administrator sends it again.
func TestRejectedIsNotRetried(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	srv.FailNext(1, 550, "5.1.1 No such user here")
	s := startSender(t, f.st, srv, nil)
	if err := f.st.QueueTestMail(ctx, f.oma, "nobody@example.org"); err != nil {
		t.Fatal(err)
	}
	id := lastMailID(t, f.st)
	m := waitForOutbox(t, f.st, id, store.MailFailed)
	if m.Attempts != 1 || !strings.Contains(m.LastError, "550") {
		t.Errorf("rejected: %d attempts, %q", m.Attempts, m.LastError)
	}
	if got := metric(t, s, "booking_mail_failed_total", "rejected"); got != 1 {
		t.Errorf("failed{rejected} = %v", got)
	}
	if err := f.st.SendMailAgain(ctx, f.oma, id); err != nil {
		t.Fatal(err)
	}
	s.Wake()
	waitForOutbox(t, f.st, id, store.MailSent)
	srv.WaitFor(1, 5*time.Second)
}

// TestServerDownForAWhile: the server is down when the mail is queued and
// for a few retries; once it is back the mail arrives, once.
func TestServerDownForAWhile(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	srv.Stop()
	s := startSender(t, f.st, srv, nil)
	if _, err := f.st.CreateBooking(ctx, f.anna, store.BookingInput{Arrival: f.today + 3, Departure: f.today + 5,
		Items: []store.Item{{AccommodationID: f.room.ID, Persons: 1}}}); err != nil {
		t.Fatal(err)
	}
	id := lastMailID(t, f.st)
	m := waitForAttempts(t, f.st, id, 2)
	if m.Status != store.MailQueued || m.LastError == "" {
		t.Errorf("while down: %s %q", m.Status, m.LastError)
	}
	if n, _ := f.st.CountMailQueued(ctx); n != 1 {
		t.Errorf("queue %d", n)
	}
	srv.Start()
	sent := waitForOutbox(t, f.st, id, store.MailSent)
	time.Sleep(200 * time.Millisecond)
	got := srv.Messages()
	if len(got) != 1 || got[0].To[0] != "oma@example.org" {
		t.Fatalf("after the server came back: %d mails", len(got))
	}
	if got := metric(t, s, "booking_mail_failed_total", "connection"); sent.Attempts < 3 || got < 2 {
		t.Errorf("attempts %d, failed{connection} %v", sent.Attempts, got)
	}
}

// TestRetriesRunOut: after the last retry the mail is failed and shown.
func TestRetriesRunOut(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	srv.Stop()
	startSender(t, f.st, srv, func(c *mailer.Config) { c.Retry = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond} })
	if err := f.st.QueueTestMail(ctx, f.oma, "x@example.org"); err != nil {
		t.Fatal(err)
	}
	m := waitForOutbox(t, f.st, lastMailID(t, f.st), store.MailFailed)
	if m.Attempts != 3 || m.LastError == "" {
		t.Errorf("gave up after %d attempts: %q", m.Attempts, m.LastError)
	}
	if n, _ := f.st.CountMailQueued(ctx); n != 0 {
		t.Errorf("queue %d", n)
	}
}

// TestOutboxSurvivesTheSender: mail queued while no sender runs (the
// server was stopped) goes out when one starts; an account disabled
// meanwhile gets nothing.
func TestOutboxSurvivesTheSender(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	f.st.EnableMail()
	b, err := f.st.CreateBooking(ctx, f.ben, store.BookingInput{Arrival: f.today + 3, Departure: f.today + 5,
		Items: []store.Item{{AccommodationID: f.room.ID, Persons: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.AcceptBooking(ctx, f.oma, b.ID); err != nil {
		t.Fatal(err)
	}
	toBen := lastMailID(t, f.st)
	if err := f.st.SetUserState(ctx, f.oma, f.ben.ID, store.StateDisabled); err != nil {
		t.Fatal(err)
	}
	startSender(t, f.st, srv, nil)
	got := srv.WaitFor(1, 10*time.Second)
	if got[0].To[0] != "oma@example.org" {
		t.Errorf("delivered to %v", got[0].To)
	}
	if m := waitForOutbox(t, f.st, toBen, store.MailSkipped); !strings.Contains(m.LastError, "disabled") {
		t.Errorf("skipped: %q", m.LastError)
	}
	time.Sleep(100 * time.Millisecond)
	if len(srv.Messages()) != 1 {
		t.Errorf("the disabled account got mail")
	}
}

// TestRegistrationAttemptMail: the owner of an address someone registered
// with gets one mail in the owner's language (not the stranger's), with
// the time, the link to "forgot your password" and nothing the stranger
// typed; an account disabled before the mail goes out gets none.
func TestRegistrationAttemptMail(t *testing.T) {
	f := newFamily(t)
	ctx := context.Background()
	srv := e2e.StartSMTP(t, e2e.SMTPOptions{})
	f.st.EnableMail()
	settings := f.st.Settings().Input()
	settings.SelfRegistration = true
	if err := f.st.UpdateSettings(ctx, f.oma, settings); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, u := range []*store.User{f.oma, f.anna, f.ben} {
		// The stranger's form is in German; Anna reads English.
		_, err := f.st.Register(ctx, store.NewUser{Email: u.Email, Name: "Mallory von evil.example", Password: "ein langes Passwort", Language: "de"})
		if !errors.Is(err, store.ErrAccountExists) {
			t.Fatalf("registration with %s: %v", u.Email, err)
		}
		ids[u.Email] = lastMailID(t, f.st)
	}
	if err := f.st.SetUserState(ctx, f.oma, f.ben.ID, store.StateDisabled); err != nil {
		t.Fatal(err)
	}
	startSender(t, f.st, srv, nil)
	got := srv.WaitFor(2, 10*time.Second)
	if m := waitForOutbox(t, f.st, ids["ben@example.org"], store.MailSkipped); !strings.Contains(m.LastError, "disabled") {
		t.Errorf("skipped: %q", m.LastError)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d mails, want 2 (none to the disabled account)", n)
	}
	want := map[string]struct {
		subject    string
		when, says []string // when: the label and layout of the attempt's time
	}{
		"oma@example.org": {"Anmeldung mit deiner E-Mail-Adresse bei „Gartenhaus“", []string{"Zeitpunkt: ", "02.01.2006 15:04"},
			[]string{"Hallo Oma,", "Jemand hat versucht, sich mit deiner E-Mail-Adresse bei „Gartenhaus“ neu anzumelden.",
				"dein Passwort bleibt, wie es ist", "Neues Passwort anfordern:\n" + base + "/forgot", "höchstens einmal pro Stunde"}},
		"anna@example.org": {"Registration with your email address at “Gartenhaus”", []string{"When: ", "Jan 2, 2006 3:04 PM"},
			[]string{"Hello Anna,", "Someone tried to register at “Gartenhaus” with your email address.", "your password stays as it is",
				"Ask for a new password:\n" + base + "/forgot", "at most once an hour"}},
	}
	for _, m := range got {
		w, ok := want[m.To[0]]
		if len(m.To) != 1 || !ok {
			t.Errorf("a mail to %v", m.To)
			continue
		}
		delete(want, m.To[0])
		if m.Subject != w.subject {
			t.Errorf("to %s: subject %q, want %q", m.To[0], m.Subject, w.subject)
		}
		// The time of the attempt, in the house's zone.
		queued, err := f.st.Mail(ctx, ids[m.To[0]])
		if err != nil {
			t.Fatal(err)
		}
		when := w.when[0] + queued.CreatedAt.In(f.st.Settings().Location()).Format(w.when[1])
		for _, s := range append(w.says, when) {
			if !strings.Contains(m.Text, s) {
				t.Errorf("the mail to %s lacks %q:\n%s", m.To[0], s, m.Text)
			}
		}
		if !strings.Contains(m.HTML, `href="`+base+`/forgot"`) {
			t.Errorf("the HTML part to %s lacks the link:\n%s", m.To[0], m.HTML)
		}
		for _, part := range []string{m.Text, m.HTML} {
			if strings.Contains(part, "Mallory") || strings.Contains(part, "evil.example") || strings.Contains(part, "/profile") {
				t.Errorf("the mail to %s carries the stranger's words or an opt-out:\n%s", m.To[0], part)
			}
		}
	}
}

func TestMailOff(t *testing.T) {
	f := newFamily(t)
	s, err := mailer.New(mailer.Config{}, f.st)
	if err != nil {
		t.Fatal(err)
	}
	if s.Enabled() || f.st.MailEnabled() || s.MailSettings().Enabled {
		t.Errorf("mail is on without a server")
	}
	// Run returns at once; the metrics are there, all zero.
	s.Run(context.Background())
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	if n, err := testutil.GatherAndCount(reg, "booking_mail_sent_total", "booking_mail_failed_total", "booking_mail_queue"); err != nil || n != 6 {
		t.Errorf("%d series (%v), want 6", n, err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url, host string
		port      int
		tls, user string
	}{
		{"smtp://u:p@mail.example.org:587?tls=starttls", "mail.example.org", 587, "starttls", "u"},
		{"smtp://u:p@mail.example.org", "mail.example.org", 587, "starttls", "u"},
		{"smtps://u:p@mail.example.org", "mail.example.org", 465, "implicit", "u"},
		{"smtp://mail.example.org?tls=implicit", "mail.example.org", 465, "implicit", ""},
		{"smtp://localhost?tls=none", "localhost", 25, "none", ""},
		{"smtp://127.0.0.1:2525?tls=none", "127.0.0.1", 2525, "none", ""},
		{"smtp://[::1]:25?tls=none", "::1", 25, "none", ""},
	} {
		s, err := mailer.ParseSMTPURL(tc.url)
		if err != nil || s.Host != tc.host || s.Port != tc.port || s.TLS != tc.tls || s.User != tc.user {
			t.Errorf("%s: %+v %v", tc.url, s, err)
		}
	}
	for _, bad := range []string{"http://x", "smtp://", "smtp://x?tls=maybe", "smtp://x?tsl=none", "smtp://x:99999", "smtps://x?tls=none", "::"} {
		_, err := mailer.ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// A URL that does not parse is not repeated in the message: it may
	// hold the password.
	if _, err := mailer.ParseSMTPURL("smtp://u:geheim@x:port%"); err == nil || strings.Contains(err.Error(), "geheim") {
		t.Errorf("error %v", err)
	}
	smtp, _ := mailer.ParseSMTPURL("smtp://haus@example.org:pw@x")
	if smtp != nil {
		if from, err := mailer.ParseFrom("", smtp); err != nil || from.Address != "haus@example.org" {
			t.Errorf("from the user: %v %v", from, err)
		}
	}
	if _, err := mailer.ParseFrom("", &mailer.SMTP{User: "apikey"}); err == nil {
		t.Errorf("a sender from a user that is no address")
	}
	if from, err := mailer.ParseFrom("Gartenhaus <haus@example.org>", &mailer.SMTP{}); err != nil || from.Name != "Gartenhaus" {
		t.Errorf("from: %v %v", from, err)
	}
	r, err := mailer.ParseRetry("1m, 5m,30m,2h")
	if err != nil || mailer.FormatRetry(r) != "1m,5m,30m,2h" || mailer.FormatRetry([]time.Duration{90 * time.Minute, 50 * time.Millisecond}) != "1h30m,50ms" {
		t.Errorf("retry %v %v", r, err)
	}
	if _, err := mailer.ParseRetry("1m,,2h"); err == nil {
		t.Errorf("an empty step was accepted")
	}
}
