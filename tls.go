package main

// HTTPS of "booking serve", for a house reachable from the internet: either
// certificate files (certbot), re-read when they change, or certificates
// from an ACME CA (Let's Encrypt) through autocert. Without either the
// server speaks plain HTTP, as on a home network behind the router.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// tlsFlags are the flags of "booking serve" for HTTPS.
type tlsFlags struct {
	certFile, keyFile string
	acmeDomain        string
	acmeEmail         string
	acmeDirectory     string
	httpAddr          string
	hstsPreload       bool
}

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.certFile, "tls-cert", "", "serve HTTPS with this certificate chain (PEM); a changed file is picked up without a restart")
	fs.StringVar(&t.keyFile, "tls-key", "", "the private key (PEM) of -tls-cert")
	fs.StringVar(&t.acmeDomain, "acme-domain", "", "serve HTTPS with a certificate for this name from an ACME CA (Let's Encrypt)")
	fs.StringVar(&t.acmeEmail, "acme-email", "", "where the ACME CA may write about the certificate (optional)")
	fs.StringVar(&t.acmeDirectory, "acme-directory", autocert.DefaultACMEDirectory, "the ACME CA's directory URL")
	fs.StringVar(&t.httpAddr, "http-addr", "", `plain HTTP address that redirects to HTTPS and answers ACME's HTTP-01 challenge (default ":80" with -acme-domain; "" turns it off)`)
	fs.BoolVar(&t.hstsPreload, "hsts-preload", false, "add preload to the HSTS header (only for a domain submitted to hstspreload.org)")
}

// check tells a command line that cannot work from one that can, and fills
// in the defaults that depend on other flags: with TLS the server listens on
// :443 unless -addr says otherwise, and with ACME on :80 too.
func (t *tlsFlags) check(fs *flag.FlagSet, addr *string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case (t.certFile == "") != (t.keyFile == ""):
		return usageError("-tls-cert and -tls-key go together")
	case t.certFile != "" && t.acmeDomain != "":
		return usageError("-tls-cert and -acme-domain exclude each other: certificate files, or certificates from an ACME CA")
	case t.acmeDomain == "" && (set["acme-email"] || set["acme-directory"]):
		return usageError("-acme-email and -acme-directory need -acme-domain")
	case !t.on() && (set["http-addr"] || t.hstsPreload):
		return usageError("-http-addr and -hsts-preload need -tls-cert or -acme-domain")
	}
	if t.acmeDomain != "" {
		if err := checkDomain(t.acmeDomain); err != nil {
			return usageError(fmt.Sprintf("-acme-domain %q: %v", t.acmeDomain, err))
		}
		if u, err := url.Parse(t.acmeDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			return usageError(fmt.Sprintf("-acme-directory %q: want an https:// URL", t.acmeDirectory))
		}
		if !set["http-addr"] {
			t.httpAddr = ":80"
		}
	}
	if t.on() && !set["addr"] {
		*addr = ":443"
	}
	return nil
}

func (t *tlsFlags) on() bool { return t.certFile != "" || t.acmeDomain != "" }

// checkDomain refuses what an ACME CA would refuse anyway, but at start
// and in words: a CA certifies a host name, not an address or a URL.
func checkDomain(d string) error {
	switch {
	case strings.Contains(d, "://") || strings.ContainsAny(d, "/:@ "):
		return errors.New("want a bare host name like gartenhaus.example.org")
	case net.ParseIP(d) != nil:
		return errors.New("an ACME CA certifies names, not addresses")
	case !strings.Contains(strings.Trim(d, "."), "."):
		return errors.New("want a full name with a dot, like gartenhaus.example.org")
	}
	return nil
}

// webTLS is how the server speaks HTTPS; its zero value is plain HTTP.
type webTLS struct {
	config   *tls.Config  // nil: plain HTTP
	redirect http.Handler // for the -http-addr listener; nil: none
	httpAddr string
	hsts     string // the Strict-Transport-Security value
	name     string // the name the certificate is for, for links and redirects
	// httpsPort is the HTTPS port when it is not 443, for redirects.
	httpsPort string
	acme      *autocert.Manager
	files     *certFiles

	// expiry is the NotAfter (Unix seconds) of the certificate served last,
	// for the metric; 0 before the first.
	expiry atomic.Int64
}

// hstsMaxAge is a year, what browsers and the preload list expect.
const hstsMaxAge = 365 * 24 * time.Hour

// setup loads the certificate files or prepares autocert, whose cache lives
// in the data folder (beside the database, not in its replica: a lost cache
// only means a new certificate).
func (t *tlsFlags) setup(dataDir, version string, logger *slog.Logger) (*webTLS, error) {
	w := &webTLS{httpAddr: t.httpAddr}
	if !t.on() {
		return w, nil
	}
	w.hsts = fmt.Sprintf("max-age=%d; includeSubDomains", int(hstsMaxAge.Seconds()))
	if t.hstsPreload {
		w.hsts += "; preload"
	}
	var get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	w.config = &tls.Config{
		// TLS 1.0 and 1.1 are deprecated (RFC 8996); Go's cipher suites
		// for 1.2 and 1.3 are kept as they are: forward secret AEAD first.
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := get(hello)
			// The CA's TLS-ALPN-01 check gets a throwaway challenge
			// certificate, which is not the one the family sees.
			if err == nil && c != nil && c.Leaf != nil && !isACMEChallenge(hello) {
				w.expiry.Store(c.Leaf.NotAfter.Unix())
			}
			return c, err
		},
	}
	if t.certFile != "" {
		files, err := loadCertFiles(t.certFile, t.keyFile, logger)
		if err != nil {
			return nil, err
		}
		w.files = files
		get = files.getCertificate
		leaf := files.cert.Load().Leaf
		w.expiry.Store(leaf.NotAfter.Unix())
		if len(leaf.DNSNames) > 0 {
			w.name = leaf.DNSNames[0]
		}
		if w.httpAddr != "" {
			w.redirect = http.HandlerFunc(w.redirectToHTTPS)
		}
		return w, nil
	}
	cacheDir := filepath.Join(dataDir, "acme")
	w.name = strings.TrimSuffix(t.acmeDomain, ".")
	w.acme = &autocert.Manager{
		// Starting the server with -acme-domain is agreeing to the CA's
		// terms; the README says so.
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cacheDir),
		HostPolicy: autocert.HostWhitelist(w.name),
		Email:      t.acmeEmail,
		Client:     &acme.Client{DirectoryURL: t.acmeDirectory, UserAgent: "booking/" + version},
	}
	get = w.acme.GetCertificate
	// h2 and http/1.1 for the pages, acme-tls/1 for the TLS-ALPN-01
	// challenge on this port.
	w.config.NextProtos = []string{"h2", "http/1.1", acme.ALPNProto}
	if w.httpAddr != "" {
		// Answers the HTTP-01 challenge; everything else goes to HTTPS.
		challenges := w.acme.HTTPHandler(http.HandlerFunc(w.redirectToHTTPS))
		w.redirect = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			// autocert holds the Host header, port and all, against the
			// name. A CA checks on port 80 and sends none; a port shows
			// only with a test CA checking another port.
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				r = r.Clone(r.Context())
				r.Host = h
			}
			challenges.ServeHTTP(rw, r)
		})
	}
	logger.Info("HTTPS with certificates from an ACME CA", "domain", w.name, "directory", t.acmeDirectory, "cache", cacheDir)
	return w, nil
}

func isACMEChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

func (w *webTLS) on() bool { return w.config != nil }

// certificateExpiry is for the metric: nil with plain HTTP, so that there
// is no such series at all.
func (w *webTLS) certificateExpiry() func() time.Time {
	if !w.on() {
		return nil
	}
	return func() time.Time {
		if w.files != nil {
			// A scrape looks at the files as a handshake does, so a
			// renewal shows even when every client resumes its session.
			w.files.refresh(time.Now())
			return w.files.cert.Load().Leaf.NotAfter
		}
		if s := w.expiry.Load(); s != 0 {
			return time.Unix(s, 0)
		}
		return time.Time{}
	}
}

// withHSTS tells browsers to come back only over HTTPS for a year.
func (w *webTLS) withHSTS(next http.Handler) http.Handler {
	if !w.on() {
		return next
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			rw.Header().Set("Strict-Transport-Security", w.hsts)
		}
		next.ServeHTTP(rw, r)
	})
}

// serve serves srv on ln, with TLS when it is on.
func (w *webTLS) serve(srv *http.Server, ln net.Listener) error {
	if !w.on() {
		return srv.Serve(ln)
	}
	srv.TLSConfig = w.config
	return srv.ServeTLS(ln, "", "")
}

// serveRedirects starts the -http-addr listener, which sends browsers to
// the HTTPS address httpsAddr; nil when there is none. Its end is reported
// on errc, like the main server's.
func (w *webTLS) serveRedirects(httpsAddr net.Addr, logger *slog.Logger, errc chan<- error) (*http.Server, error) {
	if w.redirect == nil {
		return nil, nil
	}
	if ta, ok := httpsAddr.(*net.TCPAddr); ok && ta.Port != 443 {
		w.httpsPort = fmt.Sprint(ta.Port)
	}
	ln, err := net.Listen("tcp", w.httpAddr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           w.redirect,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() { errc <- fmt.Errorf("-http-addr %s: %w", w.httpAddr, srv.Serve(ln)) }()
	logger.Info("redirecting plain HTTP to HTTPS", "http_addr", ln.Addr().String(), "acme_http01", w.acme != nil)
	return srv, nil
}

// redirectToHTTPS sends a plain HTTP request to the same page over HTTPS.
// With ACME the host is the one name there is a certificate for, not
// whatever the Host header says.
func (w *webTLS) redirectToHTTPS(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A form sent over plain HTTP has already crossed the network in
		// the clear; resending it would hide that.
		http.Error(rw, "Use HTTPS", http.StatusBadRequest)
		return
	}
	host := w.name
	if w.acme == nil || host == "" {
		host = r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
	}
	if w.httpsPort != "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), w.httpsPort)
	}
	target := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	http.Redirect(rw, r, target.String(), http.StatusMovedPermanently)
}

// baseURL is how the family reaches the server, for the setup link in the
// log when -base-url is not given; "" for plain HTTP.
func (w *webTLS) baseURL(addr net.Addr) string {
	if !w.on() {
		return ""
	}
	host := w.name
	if host == "" {
		host = "localhost"
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.Port != 443 {
		host = net.JoinHostPort(host, fmt.Sprint(ta.Port))
	}
	return "https://" + host
}

// fetchCertificate asks autocert for the certificate once the listeners
// are up (the CA connects back to them), so that the first visitor does
// not wait for the CA and a failure shows in the log at once, and then
// once an hour: that retries a failure without waiting for a visitor, and
// shows autocert's own renewal (30 days before the end) in the metric even
// while every client resumes its TLS session. Between those looks autocert
// answers from memory; an hourly try stays well within Let's Encrypt's
// limit of 5 failed checks an hour.
func (w *webTLS) fetchCertificate(ctx context.Context, logger *slog.Logger) {
	if w.acme == nil {
		return
	}
	// A modern browser's hello: autocert keeps an ECDSA certificate for
	// those, and gets an RSA one only when an old client asks.
	hello := &tls.ClientHelloInfo{
		ServerName:        w.name,
		SupportedProtos:   []string{"h2", "http/1.1"},
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		var last int64
		for {
			start := time.Now()
			_, err := w.config.GetCertificate(hello)
			if ctx.Err() != nil {
				return
			}
			switch exp := w.expiry.Load(); {
			case err != nil:
				logger.Error("no certificate from the ACME CA: is the name's DNS pointing at this house, and are ports 443 and 80 forwarded to this server? Trying again within the hour",
					"domain", w.name, "err", err)
			case exp != last:
				last = exp
				logger.Info("certificate ready", "domain", w.name, "not_after", time.Unix(exp, 0).UTC().Format(time.RFC3339),
					"took", time.Since(start).Round(time.Millisecond))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// certFiles serves the certificate of a pair of PEM files and picks up a new
// pair when the files change (certbot renews every two months or so)
// without a restart: a handshake (or a scrape of the expiry metric) looks at
// the files at most every certCheckInterval, which costs two stat calls.
type certFiles struct {
	certPath, keyPath string
	log               *slog.Logger
	every             time.Duration

	cert atomic.Pointer[tls.Certificate]

	mu      sync.Mutex // one look at the files at a time
	checked time.Time
	seen    [2]fileStamp // the files as last loaded or tried
}

const certCheckInterval = 2 * time.Second

// fileStamp tells one version of a file from another. The inode is there
// because a renewal that replaces a file by a rename (certbot's symlinks,
// a deploy hook's mv) may keep the size and, within the file system's clock
// tick, the time.
type fileStamp struct {
	mod   time.Time
	size  int64
	inode uint64
}

func loadCertFiles(certPath, keyPath string, logger *slog.Logger) (*certFiles, error) {
	c := &certFiles{certPath: certPath, keyPath: keyPath, log: logger, every: certCheckInterval}
	c.seen = c.stamps()
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert.Store(cert)
	c.checked = time.Now()
	return c, nil
}

func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.refresh(time.Now())
	return c.cert.Load(), nil
}

// refresh loads the files again when they changed since they were last
// seen. A pair that does not load (certbot writes the certificate and the
// key one after the other) leaves the old certificate in place; it is tried
// again when a file changes again.
func (c *certFiles) refresh(now time.Time) {
	if !c.mu.TryLock() {
		return // another handshake is looking; this one serves what is there
	}
	defer c.mu.Unlock()
	if now.Sub(c.checked) < c.every {
		return
	}
	c.checked = now
	st := c.stamps()
	if st == c.seen {
		return
	}
	c.seen = st
	cert, err := c.load()
	if err != nil {
		c.log.Error("the changed certificate files do not load: still serving the previous certificate", "err", err)
		return
	}
	c.cert.Store(cert)
}

func (c *certFiles) stamps() [2]fileStamp {
	var st [2]fileStamp
	for i, p := range []string{c.certPath, c.keyPath} {
		// os.Stat follows certbot's live/ symlinks to the new archive files.
		if fi, err := os.Stat(p); err == nil {
			st[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
			if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
				st[i].inode = sys.Ino
			}
		}
	}
	return st
}

func (c *certFiles) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert %s, -tls-key %s: %w", c.certPath, c.keyPath, err)
	}
	leaf := cert.Leaf // LoadX509KeyPair parses it (Go 1.23 and later)
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("-tls-cert %s: %w", c.certPath, err)
		}
		cert.Leaf = leaf
	}
	attrs := []any{"names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "file", c.certPath}
	if time.Now().After(leaf.NotAfter) {
		c.log.Error("the TLS certificate has EXPIRED: browsers will refuse the site until it is renewed", attrs...)
	} else {
		c.log.Info("TLS certificate loaded", attrs...)
	}
	return &cert, nil
}
