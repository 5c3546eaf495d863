package mailer

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"booking/store"
)

// Words are the catalogue's texts and formats in one language; the
// handlers' catalogue provides them (handlers.MailWords), so a mail says
// things the way the pages do.
type Words interface {
	T(key string, args ...any) string
	Date(d store.Date) string
	DateShort(d store.Date) string
	Time(t time.Time, loc *time.Location) string
	Plural(n int, key string) string
	Status(s string) string
}

//go:embed templates/mail.txt templates/mail.html
var templateFiles embed.FS

// Message is a rendered mail.
type Message struct {
	To, ToName string
	Subject    string
	Text, HTML string
}

// content is what both parts of a mail show.
type content struct {
	Lang       string
	Subject    string
	Greeting   string
	Paragraphs []string
	Facts      []fact
	Link       *link
	After      []string // below the link
	Footer     []string
}

type fact struct{ Label, Value string }

type link struct{ Label, URL string }

// renderer writes mails from outbox rows.
type renderer struct {
	words   func(lang string) Words
	baseURL string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func newRenderer(words func(string) Words, baseURL string) (*renderer, error) {
	indent := func(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
	text, err := texttemplate.New("mail.txt").Funcs(texttemplate.FuncMap{"indent": indent}).ParseFS(templateFiles, "templates/mail.txt")
	if err != nil {
		return nil, err
	}
	html, err := htmltemplate.ParseFS(templateFiles, "templates/mail.html")
	if err != nil {
		return nil, err
	}
	return &renderer{words: words, baseURL: strings.TrimRight(baseURL, "/"), text: text, html: html}, nil
}

func (r *renderer) url(path string) string { return r.baseURL + path }

// render writes mail m in its recipient's language. settings are the
// house's as they are now (its name, its time zone).
func (r *renderer) render(m *store.Mail, settings *store.Settings) (*Message, error) {
	c, err := r.content(m, settings)
	if err != nil {
		return nil, fmt.Errorf("mail %d (%s): %w", m.ID, m.Kind, err)
	}
	var text, html bytes.Buffer
	if err := r.text.Execute(&text, c); err != nil {
		return nil, fmt.Errorf("mail %d: %w", m.ID, err)
	}
	if err := r.html.Execute(&html, c); err != nil {
		return nil, fmt.Errorf("mail %d: %w", m.ID, err)
	}
	return &Message{To: m.To, ToName: m.ToName, Subject: c.Subject, Text: text.String(), HTML: html.String()}, nil
}

func (r *renderer) content(m *store.Mail, settings *store.Settings) (*content, error) {
	lang := m.Lang()
	w := r.words(lang)
	house := settings.HouseName
	c := &content{Lang: lang, Greeting: w.T("mail.greeting_anon")}
	if m.ToName != "" {
		c.Greeting = w.T("mail.greeting", m.ToName)
	}
	d := m.Data
	b := d.Booking
	needBooking := func() error {
		if b == nil {
			return fmt.Errorf("no booking in the mail's data")
		}
		return nil
	}
	bookingLink := func() *link {
		return &link{Label: w.T("mail.open_booking"), URL: r.url("/bookings/" + strconv.FormatInt(b.ID, 10))}
	}
	switch m.Kind {
	case store.MailBookingCreated, store.MailBookingChanged, store.MailBookingAccepted, store.MailBookingRejected:
		if err := needBooking(); err != nil {
			return nil, err
		}
		key := "mail." + m.Kind
		switch m.Kind {
		case store.MailBookingCreated, store.MailBookingChanged:
			c.Subject = w.T(key+".subject", b.Owner, span(w, b))
			c.Paragraphs = []string{w.T(key+".text", b.Owner)}
		default:
			c.Subject = w.T(key+".subject", span(w, b))
			c.Paragraphs = []string{w.T(key+".text", d.Actor)}
		}
		c.Facts = bookingFacts(w, b)
		if m.Kind == store.MailBookingChanged && d.Before != nil {
			c.Facts = append(c.Facts, fact{w.T("mail.before"), span(w, d.Before) + ": " + items(w, d.Before)})
		}
		c.Link = bookingLink()
	case store.MailBookingCancelled:
		if err := needBooking(); err != nil {
			return nil, err
		}
		if m.RecipientID == b.OwnerID {
			c.Subject = w.T("mail.booking_cancelled_yours.subject", span(w, b))
			c.Paragraphs = []string{w.T("mail.booking_cancelled_yours.text", d.Actor)}
		} else {
			c.Subject = w.T("mail.booking_cancelled.subject", b.Owner, span(w, b))
			c.Paragraphs = []string{w.T("mail.booking_cancelled.text", d.Actor)}
		}
		c.Facts = bookingFacts(w, b)
		c.Link = bookingLink()
	case store.MailMemberWaiting, store.MailMemberJoined:
		if d.Member == nil {
			return nil, fmt.Errorf("no member in the mail's data")
		}
		c.Subject = w.T("mail."+m.Kind+".subject", d.Member.Name)
		c.Paragraphs = []string{w.T("mail."+m.Kind+".text", d.Member.Name, d.Member.Email)}
		if m.Kind == store.MailMemberWaiting {
			c.Link = &link{Label: w.T("mail.open_dashboard"), URL: r.url("/admin")}
		} else {
			c.Link = &link{Label: w.T("mail.open_members"), URL: r.url("/admin/members")}
		}
	case store.MailAccountApproved:
		c.Subject = w.T("mail.account_approved.subject", house)
		c.Paragraphs = []string{w.T("mail.account_approved.text", d.Actor)}
		c.Link = &link{Label: w.T("mail.open_calendar"), URL: r.url("/calendar")}
	case store.MailInvitation, store.MailPasswordReset:
		if d.Token == "" {
			return nil, fmt.Errorf("the link's token is gone")
		}
		valid := w.T("mail.link_valid", w.Time(d.Expires, settings.Location()))
		if m.Kind == store.MailInvitation {
			c.Subject = w.T("mail.invitation.subject", house)
			c.Paragraphs = []string{w.T("mail.invitation.text", d.Actor, house)}
			c.Link = &link{Label: w.T("mail.accept_invitation"), URL: r.url("/invite/" + url.PathEscape(d.Token))}
			c.After = []string{valid}
		} else {
			c.Subject = w.T("mail.password_reset.subject", house)
			c.Paragraphs = []string{w.T("mail.password_reset.text")}
			c.Link = &link{Label: w.T("mail.choose_password"), URL: r.url("/reset/" + url.PathEscape(d.Token))}
			c.After = []string{valid, w.T("mail.password_reset.ignore")}
		}
	case store.MailRegistrationAttempt:
		// Nothing the stranger typed goes into the mail: a name or a
		// link in it would make the house's mail carry their words.
		c.Subject = w.T("mail.registration_attempt.subject", house)
		c.Paragraphs = []string{w.T("mail.registration_attempt.text", house), w.T("mail.registration_attempt.forgot")}
		c.Facts = []fact{{w.T("mail.registration_attempt.when"), w.Time(m.CreatedAt, settings.Location())}}
		c.Link = &link{Label: w.T("mail.registration_attempt.link"), URL: r.url("/forgot")}
		c.After = []string{w.T("mail.registration_attempt.ignore")}
	case store.MailTest:
		c.Subject = w.T("mail.test.subject", house)
		c.Paragraphs = []string{w.T("mail.test.text", d.Actor)}
		c.Link = &link{Label: w.T("mail.open_settings"), URL: r.url("/admin/settings")}
	default:
		return nil, fmt.Errorf("unknown kind of mail")
	}
	c.Footer = []string{w.T("mail.footer", house)}
	if m.RecipientID != 0 && store.MailCanBeTurnedOff(m.Kind) {
		c.Footer = append(c.Footer, w.T("mail.footer_optout", r.url("/profile")))
	}
	return c, nil
}

// span is "03.08.–05.08." (or "Aug 3–Aug 5").
func span(w Words, b *store.MailBooking) string {
	a, d := b.Dates()
	return w.DateShort(a) + "–" + w.DateShort(d)
}

// items is "Zimmer 1: 2 Personen, Zelt: 1 Person".
func items(w Words, b *store.MailBooking) string {
	parts := make([]string, len(b.Items))
	for i, it := range b.Items {
		parts[i] = it.Name + ": " + w.Plural(it.Persons, "persons")
	}
	return strings.Join(parts, ", ")
}

// bookingFacts are the lines about a stay that every booking mail shows.
func bookingFacts(w Words, b *store.MailBooking) []fact {
	a, d := b.Dates()
	fs := []fact{
		{w.T("booking.who"), b.Owner},
		{w.T("booking.arrival"), w.Date(a)},
		{w.T("booking.departure"), w.Date(d)},
		{w.T("booking.nights"), strconv.Itoa(b.Nights())},
		{w.T("booking.items"), items(w, b)},
		{w.T("booking.status"), w.Status(b.Status)},
	}
	if b.Reason != "" {
		fs = append(fs, fact{w.T("booking.reason"), b.Reason})
	}
	if b.Notes != "" {
		fs = append(fs, fact{w.T("booking.notes"), b.Notes})
	}
	return fs
}
