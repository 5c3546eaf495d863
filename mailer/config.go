// Package mailer delivers the mail the store writes to its outbox: it
// renders each mail in its recipient's language (plain text and simple HTML)
// when its turn comes, sends it over SMTP with github.com/wneessen/go-mail,
// retries with backoff, and records the outcome in the outbox. It never
// runs inside a request: the store queues, the sender sends.
package mailer

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLS modes of the SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which must succeed (port 587)
	TLSImplicit = "implicit" // TLS from the first byte (port 465, "smtps")
	TLSNone     = "none"     // no encryption: only for a relay on the same machine or network
)

// SMTP is where mail goes, as read from BOOKING_SMTP_URL.
type SMTP struct {
	Host     string
	Port     int
	TLS      string
	User     string
	Password string
}

// ParseSMTPURL reads the server from a URL such as
//
//	smtp://user:pass@mail.example.org:587?tls=starttls
//	smtps://user:pass@mail.example.org        (implicit TLS, port 465)
//	smtp://localhost:25?tls=none              (a local relay)
//
// smtp:// means STARTTLS unless tls= says otherwise; user and password are
// percent-encoded as in any URL (an @ in a user name is %40).
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's message repeats the URL, password and all.
		return nil, fmt.Errorf("BOOKING_SMTP_URL is not a URL (want smtp://user:password@host:587?tls=starttls)")
	}
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.TLS = TLSStartTLS
	case "smtps":
		s.TLS = TLSImplicit
	default:
		return nil, fmt.Errorf("BOOKING_SMTP_URL: scheme %q: want smtp:// or smtps://", u.Scheme)
	}
	if s.Host == "" {
		return nil, fmt.Errorf("BOOKING_SMTP_URL has no host (want smtp://user:password@host:587)")
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return nil, fmt.Errorf("BOOKING_SMTP_URL: unknown parameter %q (only tls= is known)", k)
		}
	}
	switch t := q.Get("tls"); t {
	case "":
	case TLSStartTLS, TLSImplicit, TLSNone:
		if u.Scheme == "smtps" && t != TLSImplicit {
			return nil, fmt.Errorf("BOOKING_SMTP_URL: smtps:// is implicit TLS, but tls=%s", t)
		}
		s.TLS = t
	default:
		return nil, fmt.Errorf("BOOKING_SMTP_URL: tls=%q: want starttls, implicit or none", t)
	}
	switch port := u.Port(); {
	case port != "":
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("BOOKING_SMTP_URL: port %q is not a port", port)
		}
		s.Port = n
	case s.TLS == TLSImplicit:
		s.Port = 465
	case s.TLS == TLSNone:
		s.Port = 25
	default:
		s.Port = 587
	}
	if u.User != nil {
		s.User = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

// Address is host:port.
func (s *SMTP) Address() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// ParseFrom reads BOOKING_MAIL_FROM ("Gartenhaus <haus@example.org>" or a
// bare address). Without it the SMTP user is the sender, when it is an
// address.
func ParseFrom(raw string, s *SMTP) (*mail.Address, error) {
	if strings.TrimSpace(raw) == "" {
		if a, err := mail.ParseAddress(s.User); err == nil && s.User != "" {
			return a, nil
		}
		return nil, fmt.Errorf("BOOKING_MAIL_FROM is not set (the sender, e.g. \"Gartenhaus <haus@example.org>\")")
	}
	a, err := mail.ParseAddress(raw)
	if err != nil {
		return nil, fmt.Errorf("BOOKING_MAIL_FROM %q is not an address (want e.g. \"Gartenhaus <haus@example.org>\")", raw)
	}
	return a, nil
}

// DefaultRetry is when a mail is tried again after a failed attempt: 1
// minute after the first, 5 minutes after the second, ...; after the last
// the mail is failed and the settings page shows it.
var DefaultRetry = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}

// ParseRetry reads a retry schedule such as "1m,5m,30m,2h".
func ParseRetry(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration (want e.g. 1m,5m,30m,2h)", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// FormatRetry is the schedule as ParseRetry reads it.
func FormatRetry(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		p := d.String() // "2h0m0s": drop the zero minutes and seconds
		if strings.HasSuffix(p, "m0s") {
			p = p[:len(p)-2]
		}
		if strings.HasSuffix(p, "h0m") {
			p = p[:len(p)-2]
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// Settings are the effective mail settings as the settings page shows
// them: never the password, only whether there is one.
type Settings struct {
	Enabled     bool
	Server      string // host:port
	TLS         string
	User        string
	PasswordSet bool
	From        string
	BaseURL     string
	Retry       string
}
