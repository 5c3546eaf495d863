package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pebbleVersion is Let's Encrypt's ACME test server. It is not a
// dependency of the server: like the upstream litestream CLI it is built
// with "go install" on first use and kept in the user's cache folder.
const pebbleVersion = "v2.10.3"

// pebbleTools returns pebble and pebble-challtestsrv (its DNS server,
// which answers 127.0.0.1 for every name, so no name is looked up
// anywhere else).
func pebbleTools(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "booking-tests", "pebble-"+pebbleVersion)
	pebble, challtestsrv = filepath.Join(dir, "pebble"), filepath.Join(dir, "pebble-challtestsrv")
	if _, err := os.Stat(pebble); err == nil {
		if _, err := os.Stat(challtestsrv); err == nil {
			return pebble, challtestsrv
		}
	}
	goTool := RequireTool(t, "go", "install Go")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const mod = "github.com/letsencrypt/pebble/v2/cmd/"
	cmd := exec.CommandContext(ctx, goTool, "install", mod+"pebble@"+pebbleVersion, mod+"pebble-challtestsrv@"+pebbleVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		ToolMissing(t, "cannot build pebble with go install (it needs the Go module proxy): "+err.Error()+"\n"+string(out))
	}
	t.Logf("built pebble %s into %s in %s", pebbleVersion, dir, time.Since(start).Round(time.Second))
	return pebble, challtestsrv
}

// startProcess runs a helper program until the test ends.
func startProcess(t *testing.T, env []string, name string, args ...string) *LogBuffer {
	t.Helper()
	logs := &LogBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s:\n%s", filepath.Base(name), logs)
		}
	})
	return logs
}

// TestACMECertificateFromPebble gets a certificate through autocert from a
// real ACME server (pebble) on loopback, once through each challenge the
// server answers: TLS-ALPN-01 on the HTTPS port and HTTP-01 on -http-addr.
// Pebble is told to check only one of the two ports (the other is closed),
// so the certificate proves that challenge works. Then the served
// certificate chains to pebble's root, its expiry is the metric, plain
// HTTP redirects, and a restart serves the cached certificate without
// asking the CA again.
func TestACMECertificateFromPebble(t *testing.T) {
	pebble, challtestsrv := pebbleTools(t)
	for _, challenge := range []string{"tls-alpn-01", "http-01"} {
		t.Run(challenge, func(t *testing.T) { acmeFromPebble(t, pebble, challtestsrv, challenge) })
	}
}

func acmeFromPebble(t *testing.T, pebble, challtestsrv, challenge string) {
	const domain = "booking.test"
	httpsAddr, httpAddr, closed := FreePort(t), FreePort(t), FreePort(t)
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		var n int
		fmt.Sscan(p, &n)
		return n
	}
	checkHTTP, checkTLS := port(httpAddr), port(httpsAddr)
	if challenge == "tls-alpn-01" {
		checkHTTP = port(closed)
	} else {
		checkTLS = port(closed)
	}

	// The DNS server pebble asks: every name is 127.0.0.1, no AAAA.
	dnsAddr := FreePort(t)
	startProcess(t, nil, challtestsrv, "-dnsserver", dnsAddr, "-management", FreePort(t),
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")

	// Pebble's own HTTPS (its directory) uses a certificate made here, which
	// the booking server trusts through SSL_CERT_FILE.
	dir := t.TempDir()
	pebbleCert := WriteTestCert(t, dir, time.Now().Add(24*time.Hour), "127.0.0.1", "localhost")
	pebbleAddr, pebbleMgmt := FreePort(t), FreePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": pebbleAddr, "managementListenAddress": pebbleMgmt,
		"certificate": pebbleCert.CertFile, "privateKey": pebbleCert.KeyFile,
		"httpPort": checkHTTP, "tlsPort": checkTLS,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
		"retryAfter": map[string]int{"authz": 1, "order": 1}, "keyAlgorithm": "ecdsa",
		"profiles": map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 90 * 24 * 3600}},
	}}
	cfgJSON, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	// No random sleeps, no random nonce rejections, no reuse of an earlier
	// authorization: each run checks the challenge for real.
	startProcess(t, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		pebble, "-config", cfgPath, "-dnsserver", dnsAddr)
	toPebble := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pebbleCert.Pool}}}
	var roots *x509.CertPool
	for deadline := time.Now().Add(30 * time.Second); roots == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("pebble did not start")
		}
		res, err := toPebble.Get("https://" + pebbleMgmt + "/roots/0")
		if err != nil {
			continue
		}
		pemRoot, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pemRoot) {
				t.Fatalf("pebble's root: %s", pemRoot)
			}
		}
	}

	t.Setenv("SSL_CERT_FILE", pebbleCert.CertFile) // inherited by the server only
	s := newSite(t, nil)
	base := fmt.Sprintf("https://%s:%d", domain, port(httpsAddr))
	args := []string{"-addr", httpsAddr, "-http-addr", httpAddr, "-acme-domain", domain,
		"-acme-email", "oma@" + domain, "-acme-directory", "https://" + pebbleAddr + "/dir"}
	// Healthy means a certificate from pebble that chains to its root: the
	// client trusts nothing else.
	srv := s.startWith(base, httpsClient(roots, 5*time.Second), args...)
	t.Logf("%s: certificate after %s", challenge, srv.healthy.Round(time.Millisecond))

	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", httpsAddr, &tls.Config{ServerName: domain, RootCAs: roots})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	leaf := served()
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("certificate for %v from %q", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	client := httpsClient(roots, 5*time.Second)
	res, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if v, ok := metricValue(scrape, "booking_tls_certificate_expiry_timestamp_seconds"); !ok || int64(v) != leaf.NotAfter.Unix() {
		t.Errorf("expiry metric %v (%v), want %d", v, ok, leaf.NotAfter.Unix())
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); hsts != "max-age=31536000; includeSubDomains" {
		t.Errorf("HSTS %q", hsts)
	}
	// Port "80" sends browsers to the name, whatever Host they asked for.
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: client.CheckRedirect}
	res, err = plain.Get("http://" + httpAddr + "/calendar?month=2027-07")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if want := base + "/calendar?month=2027-07"; res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != want {
		t.Errorf("redirect %d %q, want %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "acme", domain)); err != nil {
		t.Errorf("no cached certificate in data/acme: %v", err)
	}
	srv.stop()
	if challenge != "tls-alpn-01" {
		return
	}
	// A restart serves the cached certificate: the CA is not asked again.
	srv = s.startWith(base, httpsClient(roots, 5*time.Second), args...)
	if again := served(); again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart: serial %s, want the cached %s", again.SerialNumber, leaf.SerialNumber)
	}
	srv.stop()
}
