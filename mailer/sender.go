package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"

	"booking/store"
)

// Config is what main.go hands to the sender.
type Config struct {
	// SMTP is the server; nil turns mail off: nothing is queued, nothing
	// sent, and the pages say so.
	SMTP *SMTP
	From *mail.Address
	// BaseURL is how recipients reach the server (serve -base-url): the
	// links in the mails start with it.
	BaseURL string
	// Retry is the wait after each failed attempt; after the last one the
	// mail is failed. Default DefaultRetry.
	Retry []time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own CA with
	// it); nil means the system's roots and the server's host name.
	TLSConfig *tls.Config
	// Timeout bounds one connection (default 30 s).
	Timeout time.Duration
	// Words are the catalogue's texts in a language.
	Words  func(lang string) Words
	Logger *slog.Logger
}

// maxIdle is the longest the sender sleeps without looking at the outbox,
// in case a wake-up was missed (another process wrote to the database).
const maxIdle = time.Minute

// keepMail is how long delivered and failed mails stay in the outbox list.
const keepMail = 30 * 24 * time.Hour

// Reasons a delivery attempt failed, the values of the reason label of
// booking_mail_failed_total.
const (
	ReasonConnection = "connection" // no connection, TLS or login failed, timeout
	ReasonTemporary  = "temporary"  // the server answered 4xx: try again later
	ReasonRejected   = "rejected"   // the server answered 5xx: it will not take this mail
	ReasonInternal   = "internal"   // the mail could not be written
)

var failureReasons = []string{ReasonConnection, ReasonTemporary, ReasonRejected, ReasonInternal}

// Sender delivers the outbox. Without an SMTP server it is off but still
// reports its metrics (all zero), so dashboards and alerts see them.
type Sender struct {
	cfg    Config
	st     *store.Store
	log    *slog.Logger
	r      *renderer
	wake   chan struct{}
	sent   prometheus.Counter
	failed *prometheus.CounterVec
}

var queueDesc = prometheus.NewDesc("booking_mail_queue", "Mails in the outbox waiting for their first or next delivery attempt.", nil, nil)

// New makes the sender. With an SMTP server it turns mail on in the store:
// from then on changes queue their mail.
func New(cfg Config, st *store.Store) (*Sender, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Retry) == 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	s := &Sender{cfg: cfg, st: st, log: cfg.Logger, wake: make(chan struct{}, 1),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "booking_mail_sent_total",
			Help: "Mails the SMTP server accepted.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "booking_mail_failed_total",
			Help: "Failed delivery attempts, by reason (connection, temporary, rejected, internal).",
		}, []string{"reason"}),
	}
	for _, r := range failureReasons {
		s.failed.WithLabelValues(r)
	}
	if cfg.SMTP == nil {
		return s, nil
	}
	if cfg.From == nil {
		return nil, errors.New("mail: no sender address")
	}
	if cfg.Words == nil {
		return nil, errors.New("mail: no words to write mails with")
	}
	r, err := newRenderer(cfg.Words, cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	s.r = r
	st.EnableMail()
	return s, nil
}

// Enabled tells whether mail is on.
func (s *Sender) Enabled() bool { return s.cfg.SMTP != nil }

// MailSettings are the effective settings, for the settings page.
func (s *Sender) MailSettings() Settings {
	if s.cfg.SMTP == nil {
		return Settings{}
	}
	return Settings{Enabled: true, Server: s.cfg.SMTP.Address(), TLS: s.cfg.SMTP.TLS, User: s.cfg.SMTP.User,
		PasswordSet: s.cfg.SMTP.Password != "", From: s.cfg.From.String(), BaseURL: s.cfg.BaseURL, Retry: FormatRetry(s.cfg.Retry)}
}

// Wake makes the sender look at the outbox now (after "send again").
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: whatever is due, then it sleeps until the
// next retry is due, a commit queues mail, or Wake. The outbox is the
// queue, so a restart picks up where the last run stopped.
func (s *Sender) Run(ctx context.Context) {
	if !s.Enabled() {
		return
	}
	s.log.Info("mail: sending through "+s.cfg.SMTP.Address(), "tls", s.cfg.SMTP.TLS, "from", s.cfg.From.Address, "retry", FormatRetry(s.cfg.Retry))
	timer := time.NewTimer(0)
	defer timer.Stop()
	var cleaned time.Time
	for {
		wait := maxIdle
		if err := s.deliverDue(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("mail: reading the outbox", "err", err)
			wait = 10 * time.Second
		} else if next, ok, err := s.st.NextMailDue(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(s.st.Now()), 0))
		}
		if now := s.st.Now(); now.Sub(cleaned) > 24*time.Hour {
			cleaned = now
			if err := s.st.DeleteOldMail(ctx, now.Add(-keepMail)); err != nil && ctx.Err() == nil {
				s.log.Warn("mail: cleaning up the outbox", "err", err)
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.st.MailWaiting():
		case <-s.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// deliverDue sends every mail that is due, one at a time.
func (s *Sender) deliverDue(ctx context.Context) error {
	for {
		ms, err := s.st.DueMail(ctx, 20)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := s.deliver(ctx, m); err != nil {
				return err
			}
		}
		if len(ms) < 20 {
			return nil
		}
	}
}

// deliver makes one attempt at m and records its outcome. What the server
// accepted is recorded even while the server shuts down; an attempt cut
// short by the shutdown is not recorded, and the next start sends again.
func (s *Sender) deliver(ctx context.Context, m *store.Mail) error {
	record := context.WithoutCancel(ctx)
	switch m.State {
	case store.StateDisabled, store.StateRejected:
		s.log.Info("mail: not sent to a disabled account", "mail", m.ID, "kind", m.Kind, "user_id", m.RecipientID)
		return ignoreConflict(s.st.MailSkipped(record, m.ID, "the account is disabled"))
	}
	msg, err := s.r.render(m, s.st.Settings())
	var gm *gomail.Msg
	if err == nil {
		gm, err = s.message(m, msg)
	}
	if err != nil {
		s.failed.WithLabelValues(ReasonInternal).Inc()
		s.log.Error("mail: cannot write the mail", "mail", m.ID, "err", err)
		return ignoreConflict(s.st.MailAttemptFailed(record, m.ID, "cannot write the mail: "+err.Error(), time.Time{}))
	}
	err = s.send(ctx, gm)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		s.sent.Inc()
		s.log.Info("mail: sent", "mail", m.ID, "kind", m.Kind, "attempt", m.Attempts+1)
		return ignoreConflict(s.st.MailDelivered(record, m.ID))
	}
	reason, retry := classify(err)
	s.failed.WithLabelValues(reason).Inc()
	var retryAt time.Time
	if retry && m.Attempts < len(s.cfg.Retry) {
		retryAt = s.st.Now().Add(s.cfg.Retry[m.Attempts])
		s.log.Warn("mail: attempt failed, will try again", "mail", m.ID, "kind", m.Kind, "attempt", m.Attempts+1,
			"reason", reason, "retry_at", retryAt.Format(time.RFC3339), "err", err)
	} else {
		s.log.Error("mail: not delivered, giving up (see the settings page)", "mail", m.ID, "kind", m.Kind,
			"attempts", m.Attempts+1, "reason", reason, "err", err)
	}
	return ignoreConflict(s.st.MailAttemptFailed(record, m.ID, err.Error(), retryAt))
}

// ignoreConflict: a mail settled meanwhile (an administrator's "send
// again" racing an attempt) is no reason to stop delivering the others.
func ignoreConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// message builds the MIME message: plain text with an HTML alternative.
func (s *Sender) message(m *store.Mail, msg *Message) (*gomail.Msg, error) {
	gm := gomail.NewMsg()
	gm.FromMailAddress(s.cfg.From)
	if err := gm.AddToFormat(msg.ToName, msg.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", msg.To, err)
	}
	gm.Subject(msg.Subject)
	// The same Message-ID for every attempt: a mail that goes out twice
	// (the server accepted it just before a crash) is one mail to the
	// recipient's mail program.
	domain := s.cfg.From.Address[strings.LastIndexByte(s.cfg.From.Address, '@')+1:]
	gm.SetMessageIDWithValue("booking." + strconv.FormatInt(m.ID, 10) + "." + m.MessageID + "@" + domain)
	gm.SetDateWithValue(time.Now())
	// RFC 3834: no autoresponder should answer a notification.
	gm.SetGenHeader("Auto-Submitted", "auto-generated")
	gm.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	return gm, nil
}

// dialError is a failure before the server saw the mail: connecting, TLS,
// login.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// send makes one connection and hands the server one mail.
func (s *Sender) send(ctx context.Context, msg *gomail.Msg) error {
	smtp := s.cfg.SMTP
	opts := []gomail.Option{gomail.WithPort(smtp.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch smtp.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.TLSConfig != nil {
		tc := s.cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = smtp.Host
		}
		opts = append(opts, gomail.WithTLSConfig(tc))
	}
	if smtp.User != "" {
		// The strongest mechanism the server offers; without TLS never one
		// that sends the password as it is.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(smtp.User), gomail.WithPassword(smtp.Password))
	}
	c, err := gomail.NewClient(smtp.Host, opts...)
	if err != nil {
		return &dialError{err}
	}
	if err := c.DialWithContext(ctx); err != nil {
		return &dialError{err}
	}
	// A failing QUIT after the server took the mail is no failure.
	defer c.Close()
	return c.Send(msg)
}

// classify names why an attempt failed and whether trying again can help:
// a 5xx answer is the server's final word, anything else may pass.
func classify(err error) (reason string, retry bool) {
	var de *dialError
	if errors.As(err, &de) {
		return ReasonConnection, true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch code := se.ErrorCode(); {
		case code >= 500:
			return ReasonRejected, false
		case code >= 400:
			return ReasonTemporary, true
		}
	}
	return ReasonConnection, true
}

// Describe and Collect make the sender a Prometheus collector:
// booking_mail_sent_total, booking_mail_failed_total{reason} and the
// queue, read from the outbox at scrape time.
func (s *Sender) Describe(ch chan<- *prometheus.Desc) {
	s.sent.Describe(ch)
	s.failed.Describe(ch)
	ch <- queueDesc
}

func (s *Sender) Collect(ch chan<- prometheus.Metric) {
	s.sent.Collect(ch)
	s.failed.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := s.st.CountMailQueued(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n))
	}
}
