package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"booking/e2e"
)

// inProcessServer is "booking serve" run by run() in this process, with its
// log in a file the test reads while it is written.
type inProcessServer struct {
	t      *testing.T
	logs   func() string
	addr   string // the HTTPS (or HTTP) listener
	http   string // the -http-addr listener, if any
	cancel context.CancelFunc
	done   chan int
}

func serveInProcess(t *testing.T, args ...string) *inProcessServer {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	s := &inProcessServer{t: t, cancel: cancel, done: make(chan int, 1),
		logs: func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }}
	go func() { s.done <- run(ctx, append([]string{"serve"}, args...), nil, logf, logf) }()
	t.Cleanup(s.stop)
	wantHTTP := strings.Contains(strings.Join(args, " "), "-http-addr")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		logs := s.logs()
		if m := regexp.MustCompile(`msg=serving addr=(\S+)`).FindStringSubmatch(logs); m != nil {
			s.addr = m[1]
		}
		if m := regexp.MustCompile(`http_addr=(\S+)`).FindStringSubmatch(logs); m != nil {
			s.http = m[1]
		}
		if s.addr != "" && (s.http != "" || !wantHTTP) {
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d:\n%s", code, logs)
		default:
		}
	}
	t.Fatalf("the server did not start:\n%s", s.logs())
	return nil
}

// stop ends the server as Ctrl-C does and expects a clean exit.
func (s *inProcessServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != exitOK {
			s.t.Errorf("serve exited with %d:\n%s", code, s.logs())
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("the server did not stop")
	}
}

// TestServeHTTPSWithCertificateFiles runs the server with a self-signed
// certificate made here: old TLS versions are refused, TLS 1.3 is what a
// modern client gets, every answer has HSTS, the session cookie is Secure,
// plain HTTP is redirected, the expiry is a metric, and a renewed
// certificate file is served without a restart.
func TestServeHTTPSWithCertificateFiles(t *testing.T) {
	dir := inTempDir(t)
	if code := run(context.Background(), []string{"user", "add", "--email", "oma@example.org", "--name", "Oma", "--admin"},
		strings.NewReader("Apfelkuchen mit Sahne\n"), io.Discard, io.Discard); code != exitOK {
		t.Fatalf("user add: %d", code)
	}
	certDir := filepath.Join(dir, "tls")
	os.Mkdir(certDir, 0o700)
	first := e2e.WriteTestCert(t, certDir, time.Now().Add(90*24*time.Hour).Truncate(time.Second), "localhost", "127.0.0.1")
	srv := serveInProcess(t, "-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-tls-cert", first.CertFile, "-tls-key", first.KeyFile)
	_, port, _ := net.SplitHostPort(srv.addr)

	// Protocol versions, straight from the TLS handshake.
	handshake := func(minV, maxV uint16) (*tls.ConnectionState, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.addr,
			&tls.Config{RootCAs: first.Pool, ServerName: "localhost", MinVersion: minV, MaxVersion: maxV})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.ConnectionState()
		return &st, nil
	}
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		_, err := handshake(v, v)
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("%s: want a protocol version alert, got %v", tls.VersionName(v), err)
		}
	}
	if st, err := handshake(tls.VersionTLS12, tls.VersionTLS12); err != nil {
		t.Errorf("TLS 1.2: %v", err)
	} else if st.Version != tls.VersionTLS12 {
		t.Errorf("TLS 1.2 asked, %s negotiated", tls.VersionName(st.Version))
	}
	if st, err := handshake(0, 0); err != nil {
		t.Fatalf("default handshake: %v", err)
	} else if st.Version != tls.VersionTLS13 {
		t.Errorf("a modern client got %s, want TLS 1.3", tls.VersionName(st.Version))
	}

	base := "https://localhost:" + port
	client := &http.Client{Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: first.Pool}, DialContext: dialLoopback, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
		t.Errorf("HSTS %q", got)
	}
	if res.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 over TLS", res.Proto)
	}

	// Logging in over HTTPS sets a Secure session cookie without -secure-cookies.
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"email": {"oma@example.org"}, "password": {"Apfelkuchen mit Sahne"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "booking_session" {
			session = c
		}
	}
	if res.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly {
		t.Errorf("login: %d, session cookie %+v", res.StatusCode, session)
	}

	// Plain HTTP on -http-addr goes to the same page over HTTPS; a form is
	// not sent on.
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: client.CheckRedirect}
	res, err = plain.Get("http://" + srv.http + "/calendar?month=2027-01")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if want := "https://127.0.0.1:" + port + "/calendar?month=2027-01"; res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != want {
		t.Errorf("redirect: %d %q, want 301 %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	res, err = plain.PostForm("http://"+srv.http+"/login", url.Values{"email": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("POST over plain HTTP: %d, want 400", res.StatusCode)
	}

	if got := expiryMetric(t, client, base); got != first.Cert.NotAfter.Unix() {
		t.Errorf("expiry metric %d, want %d", got, first.Cert.NotAfter.Unix())
	}

	// certbot renews: new files, same names. The server serves them
	// without a restart, within a few seconds.
	renewed := e2e.WriteTestCert(t, certDir, time.Now().Add(180*24*time.Hour).Truncate(time.Second), "localhost", "127.0.0.1")
	var served string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		c, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: renewed.Pool, ServerName: "localhost"})
		if err != nil {
			continue // still the old certificate, which this pool does not trust
		}
		served = c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		c.Close()
		break
	}
	if served != renewed.Cert.SerialNumber.String() {
		t.Fatalf("the renewed certificate was not served:\n%s", srv.logs())
	}
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs = renewed.Pool
	if got := expiryMetric(t, client, base); got != renewed.Cert.NotAfter.Unix() {
		t.Errorf("expiry metric after the renewal %d, want %d", got, renewed.Cert.NotAfter.Unix())
	}
	srv.stop()
}

// dialLoopback connects every name to 127.0.0.1: the test's certificate is
// for "localhost", and no name is looked up.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// expiryMetric reads booking_tls_certificate_expiry_timestamp_seconds from
// the server's /metrics.
func expiryMetric(t *testing.T, client *http.Client, base string) int64 {
	t.Helper()
	res, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^booking_tls_certificate_expiry_timestamp_seconds (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no expiry metric in /metrics (%d)", res.StatusCode)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// TestCertFilesKeepTheOldCertificateWhenTheNewPairFails: certbot writes the
// certificate and the key one after the other; a handshake in between must
// get the old, working pair, and the new pair once both are there.
func TestCertFilesKeepTheOldCertificateWhenTheNewPairFails(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	var logs bytes.Buffer
	old := e2e.WriteTestCert(t, dir, time.Now().Add(time.Hour), "localhost")
	files, err := loadCertFiles(old.CertFile, old.KeyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string { return files.cert.Load().Leaf.SerialNumber.String() }
	now := time.Now()
	files.refresh(now.Add(time.Hour)) // nothing changed: nothing loaded
	if n := strings.Count(logs.String(), "TLS certificate loaded"); n != 1 {
		t.Errorf("%d loads for unchanged files", n)
	}

	fresh := e2e.WriteTestCert(t, other, time.Now().Add(2*time.Hour), "localhost")
	copyFile(t, fresh.CertFile, old.CertFile) // the new certificate, still the old key
	files.refresh(now.Add(2 * time.Hour))
	if serial() != old.Cert.SerialNumber.String() {
		t.Fatal("a certificate without its key replaced the working pair")
	}
	if !strings.Contains(logs.String(), "still serving the previous certificate") {
		t.Errorf("the failed load is not logged:\n%s", logs.String())
	}
	files.refresh(now.Add(3 * time.Hour)) // unchanged since the failure: not tried again
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("%d failure lines, want 1", n)
	}

	copyFile(t, fresh.KeyFile, old.KeyFile)
	files.refresh(now.Add(3*time.Hour + time.Second)) // within the interval: not looked at
	if serial() != old.Cert.SerialNumber.String() {
		t.Error("the files were looked at again within the interval")
	}
	files.refresh(now.Add(4 * time.Hour))
	if serial() != fresh.Cert.SerialNumber.String() {
		t.Errorf("the complete new pair was not loaded:\n%s", logs.String())
	}
	// A missing file at start is an error in words.
	if _, err := loadCertFiles(filepath.Join(dir, "missing.pem"), old.KeyFile, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".new", to); err != nil {
		t.Fatal(err)
	}
}

// parseTLSFlags parses serve's flags as cmdServe does.
func parseTLSFlags(args ...string) (tlsFlags, string, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	fs.StringVar(&f.addr, "addr", ":8080", "")
	f.tls.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return f.tls, "", err
	}
	err := f.tls.check(fs, &f.addr)
	return f.tls, f.addr, err
}

func TestTLSFlags(t *testing.T) {
	bad := []struct {
		args []string
		msg  string
	}{
		{[]string{"-tls-cert", "c.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-key", "k.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-acme-domain", "a.example.org"}, "exclude each other"},
		{[]string{"-acme-email", "oma@example.org"}, "need -acme-domain"},
		{[]string{"-http-addr", ":80"}, "need -tls-cert or -acme-domain"},
		{[]string{"-hsts-preload"}, "need -tls-cert or -acme-domain"},
		{[]string{"-acme-domain", "https://gartenhaus.example.org/"}, "bare host name"},
		{[]string{"-acme-domain", "192.0.2.1"}, "not addresses"},
		{[]string{"-acme-domain", "gartenhaus"}, "with a dot"},
		{[]string{"-acme-domain", "a.example.org", "-acme-directory", "http://ca.example/dir"}, "want an https:// URL"},
	}
	for _, tc := range bad {
		_, _, err := parseTLSFlags(tc.args...)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error with %q", tc.args, err, tc.msg)
		}
	}
	defaults := []struct {
		args           []string
		addr, httpAddr string
	}{
		{nil, ":8080", ""},
		{[]string{"-tls-cert", "c.pem", "-tls-key", "k.pem"}, ":443", ""},
		{[]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-addr", ":8443", "-http-addr", ":8080"}, ":8443", ":8080"},
		{[]string{"-acme-domain", "gartenhaus.example.org"}, ":443", ":80"},
		{[]string{"-acme-domain", "gartenhaus.example.org", "-http-addr", ""}, ":443", ""},
	}
	for _, tc := range defaults {
		f, addr, err := parseTLSFlags(tc.args...)
		if err != nil || addr != tc.addr || f.httpAddr != tc.httpAddr {
			t.Errorf("%v: addr %q, http %q, %v; want %q, %q", tc.args, addr, f.httpAddr, err, tc.addr, tc.httpAddr)
		}
	}
	// Through the command line: a usage error exits 2 before anything opens.
	inTempDir(t)
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "-tls-cert", "c.pem"}, nil, io.Discard, &errb); code != exitUsage || !strings.Contains(errb.String(), "go together") {
		t.Errorf("serve -tls-cert alone: %d %q", code, errb.String())
	}
	// Files that do not load stop the start with the file names in the log.
	errb.Reset()
	if code := run(context.Background(), []string{"serve", "-addr", "127.0.0.1:0", "-tls-cert", "nope.pem", "-tls-key", "nope.key"}, nil, io.Discard, &errb); code != exitError ||
		!strings.Contains(errb.String(), "nope.pem") {
		t.Errorf("missing certificate files: %d %q", code, errb.String())
	}
}

func TestHSTSHeader(t *testing.T) {
	dir := t.TempDir()
	c := e2e.WriteTestCert(t, dir, time.Now().Add(time.Hour), "localhost")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "max-age=31536000; includeSubDomains"},
		{[]string{"-hsts-preload"}, "max-age=31536000; includeSubDomains; preload"},
	} {
		f, _, err := parseTLSFlags(append([]string{"-tls-cert", c.CertFile, "-tls-key", c.KeyFile}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		w, err := f.setup(dir, "test", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		h := w.withHSTS(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest("GET", "https://localhost/", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if got := rec.Header().Get("Strict-Transport-Security"); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.args, got, tc.want)
		}
		// Over plain HTTP (a request that did not come through TLS) the
		// header means nothing and is not sent.
		r.TLS = nil
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
			t.Errorf("HSTS over plain HTTP: %q", got)
		}
		if w.baseURL(&net.TCPAddr{Port: 443}) != "https://localhost" || w.baseURL(&net.TCPAddr{Port: 8443}) != "https://localhost:8443" {
			t.Errorf("base URL %q", w.baseURL(&net.TCPAddr{Port: 8443}))
		}
	}
	var plain webTLS
	if plain.withHSTS(http.NotFoundHandler()) == nil || plain.certificateExpiry() != nil || plain.baseURL(&net.TCPAddr{Port: 8080}) != "" {
		t.Error("plain HTTP has TLS parts")
	}
}

// TestACMEWiring checks what the flags make of autocert without a CA:
// the cache in the data folder, the one name allowed, the CA's address,
// TLS-ALPN-01 on the HTTPS port, and the port-80 handler that answers
// HTTP-01 challenges through autocert and sends everything else to HTTPS.
// e2e/acme_test.go gets a certificate from a real (test) ACME server.
func TestACMEWiring(t *testing.T) {
	dataDir := t.TempDir()
	f, addr, err := parseTLSFlags("-acme-domain", "gartenhaus.example.org", "-acme-email", "oma@example.org", "-acme-directory", "https://127.0.0.1:1/dir")
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.setup(dataDir, "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := w.acme
	if addr != ":443" || w.httpAddr != ":80" {
		t.Errorf("addresses %q %q", addr, w.httpAddr)
	}
	if m.Cache != autocert.DirCache(filepath.Join(dataDir, "acme")) || m.Email != "oma@example.org" ||
		m.Client.DirectoryURL != "https://127.0.0.1:1/dir" || m.Prompt == nil {
		t.Errorf("manager: cache %v, email %q, directory %q", m.Cache, m.Email, m.Client.DirectoryURL)
	}
	ctx := context.Background()
	if err := m.HostPolicy(ctx, "gartenhaus.example.org"); err != nil {
		t.Errorf("own name refused: %v", err)
	}
	if err := m.HostPolicy(ctx, "evil.example"); err == nil {
		t.Error("another name would get a certificate")
	}
	if w.config.MinVersion != tls.VersionTLS12 || !strings.Contains(strings.Join(w.config.NextProtos, ","), acme.ALPNProto) {
		t.Errorf("TLS config: min %x, protos %v", w.config.MinVersion, w.config.NextProtos)
	}
	if got := w.certificateExpiry()(); !got.IsZero() {
		t.Errorf("expiry before any certificate: %v", got)
	}

	get := func(method, host, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://"+host+path, nil)
		rec := httptest.NewRecorder()
		w.redirect.ServeHTTP(rec, r)
		return rec
	}
	for _, host := range []string{"gartenhaus.example.org", "evil.example:80"} {
		rec := get("GET", host, "/bookings?x=1")
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "https://gartenhaus.example.org/bookings?x=1" {
			t.Errorf("Host %s: %d %q", host, rec.Code, rec.Header().Get("Location"))
		}
	}
	// A challenge path is autocert's: it knows no such token (404), and it
	// refuses hosts other than ours (403); neither is a redirect.
	for _, host := range []string{"gartenhaus.example.org", "gartenhaus.example.org:8080"} {
		if rec := get("GET", host, "/.well-known/acme-challenge/abc"); rec.Code != http.StatusNotFound {
			t.Errorf("unknown challenge token for %s: %d", host, rec.Code)
		}
	}
	if rec := get("GET", "evil.example", "/.well-known/acme-challenge/abc"); rec.Code != http.StatusForbidden {
		t.Errorf("challenge for another host: %d", rec.Code)
	}
	if rec := get("POST", "gartenhaus.example.org", "/login"); rec.Code != http.StatusBadRequest {
		t.Errorf("POST over plain HTTP: %d", rec.Code)
	}
}

// TestExpiryFollowsRenewedFilesWithoutAHandshake: clients that resume
// their TLS sessions never ask for the certificate, so a scrape of the
// expiry metric looks at the files itself.
func TestExpiryFollowsRenewedFilesWithoutAHandshake(t *testing.T) {
	dir := t.TempDir()
	first := e2e.WriteTestCert(t, dir, time.Now().Add(24*time.Hour).Truncate(time.Second), "localhost")
	f, _, err := parseTLSFlags("-tls-cert", first.CertFile, "-tls-key", first.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.setup(dir, "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	w.files.every = 0
	expiry := w.certificateExpiry()
	if got := expiry(); !got.Equal(first.Cert.NotAfter) {
		t.Errorf("expiry %v, want %v", got, first.Cert.NotAfter)
	}
	renewed := e2e.WriteTestCert(t, dir, time.Now().Add(48*time.Hour).Truncate(time.Second), "localhost")
	if got := expiry(); !got.Equal(renewed.Cert.NotAfter) {
		t.Errorf("expiry after the renewal %v, want %v", got, renewed.Cert.NotAfter)
	}
}
