package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server on loopback (github.com/emersion/go-smtp)
// that keeps what it accepts, for the mail tests: it can require STARTTLS
// and a login, answer the next mails with an error, hold a mail in DATA
// until told, and stop and start again on the same port.
type SMTPServer struct {
	tb   testing.TB
	Addr string // 127.0.0.1:PORT
	opt  SMTPOptions

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	received []*Received
	failNext []*smtp.SMTPError
	hold     chan struct{} // while set, DATA waits for it to close
	held     chan struct{} // closed when a DATA starts waiting
	changed  chan struct{} // closed and replaced on every accepted mail
}

// SMTPOptions configure the server.
type SMTPOptions struct {
	// TLS offers STARTTLS with this certificate, and then a client must
	// use it before MAIL FROM.
	TLS *tls.Config
	// User and Password, when set, are required (AUTH PLAIN).
	User, Password string
}

// Received is one mail the server accepted (250 after DATA).
type Received struct {
	From      string
	To        []string
	TLS       bool
	Raw       []byte
	Header    mail.Header
	Subject   string // decoded
	MessageID string
	Text      string // the text/plain part, decoded
	HTML      string // the text/html part, decoded
}

// StartSMTP runs the server until the test ends.
func StartSMTP(tb testing.TB, opt SMTPOptions) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{tb: tb, opt: opt, Addr: FreePort(tb), changed: make(chan struct{})}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// Start listens (again) on the server's address.
func (s *SMTPServer) Start() {
	s.tb.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = s.opt.TLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	var ln net.Listener
	var err error
	// The port was free a moment ago; a restart right after Stop may need
	// a few tries while the kernel lets go of it.
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatalf("SMTP server: %v", err)
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: a server that is down.
func (s *SMTPServer) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
	if srv != nil {
		// Closed here too: Serve may not have taken the listener yet.
		ln.Close()
		srv.Close()
	}
}

// URL is BOOKING_SMTP_URL for this server.
func (s *SMTPServer) URL() string {
	u := "smtp://"
	if s.opt.User != "" {
		u += s.opt.User + ":" + s.opt.Password + "@"
	}
	u += s.Addr
	if s.opt.TLS == nil {
		u += "?tls=none"
	}
	return u
}

// FailNext answers the next n mails' DATA with code and text (e.g. 451,
// "4.3.0 try again later") instead of accepting them.
func (s *SMTPServer) FailNext(n int, code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: text})
	}
}

// Hold makes the next DATA wait (after reading the mail, before
// answering) until Release or Stop; the returned channel is closed when
// one is waiting. A mail held and then cut off is not accepted.
func (s *SMTPServer) Hold() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	return s.held
}

// Release lets a held DATA answer.
func (s *SMTPServer) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// Messages returns what the server accepted so far.
func (s *SMTPServer) Messages() []*Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Received(nil), s.received...)
}

// WaitFor waits until the server has accepted at least n mails.
func (s *SMTPServer) WaitFor(n int, timeout time.Duration) []*Received {
	s.tb.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, changed := append([]*Received(nil), s.received...), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			var subjects []string
			for _, m := range got {
				subjects = append(subjects, m.Subject)
			}
			s.tb.Fatalf("the SMTP server accepted %d mails, want %d, within %s: %q", len(got), n, timeout, subjects)
		}
	}
}

type smtpSession struct {
	s    *SMTPServer
	c    *smtp.Conn
	auth bool
	from string
	to   []string
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.s.opt.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, password string) error {
		if user != ss.s.opt.User || password != ss.s.opt.Password {
			return smtp.ErrAuthFailed
		}
		ss.auth = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if _, isTLS := ss.c.TLSConnectionState(); ss.s.opt.TLS != nil && !isTLS {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if ss.s.opt.User != "" && !ss.auth {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	hold, held := s.hold, s.held
	s.hold = nil
	var fail *smtp.SMTPError
	if len(s.failNext) > 0 && hold == nil {
		fail, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()
	if hold != nil {
		close(held)
		<-hold
		// Cut off meanwhile (the client died, or Stop): not accepted.
		if s.stopped() || clientGone(ss.c.Conn()) {
			return errors.New("connection lost while held")
		}
	}
	if fail != nil {
		return fail
	}
	_, isTLS := ss.c.TLSConnectionState()
	m, err := parseReceived(raw)
	if err != nil {
		return fmt.Errorf("cannot parse the mail: %w", err)
	}
	m.From, m.To, m.TLS = ss.from, ss.to, isTLS
	s.mu.Lock()
	s.received = append(s.received, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// clientGone tells whether the client closed the connection while it
// waited for the answer to DATA (it sends nothing meanwhile).
func clientGone(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func (s *SMTPServer) stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv == nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

// parseReceived reads a MIME mail: the decoded subject and the text and
// HTML parts, decoded from their transfer encoding.
func parseReceived(raw []byte) (*Received, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m := &Received{Raw: raw, Header: msg.Header, MessageID: msg.Header.Get("Message-Id")}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return nil, err
	}
	err = walkParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, m)
	return m, err
}

func walkParts(contentType, encoding string, body io.Reader, m *Received) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walkParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, m); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		return fmt.Errorf("base64 parts are not expected")
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		m.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
	case "text/html":
		m.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return nil
}

// SMTPCertificate makes a certificate for 127.0.0.1 and localhost (with
// WriteTestCert) and returns the server's TLS config, a pool that trusts
// it, and its PEM file (for SSL_CERT_FILE, which Go programs read on Linux).
func SMTPCertificate(tb testing.TB) (server *tls.Config, roots *x509.CertPool, caFile string) {
	tb.Helper()
	c := WriteTestCert(tb, tb.TempDir(), time.Now().Add(24*time.Hour), "127.0.0.1", "localhost")
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, c.Pool, c.CertFile
}
