package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpsClient trusts pool and connects every name to 127.0.0.1, so that a
// certificate for a name works on loopback without looking the name up.
func httpsClient(pool *x509.CertPool, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				var d net.Dialer
				return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// testsslFinding is one entry of testssl.sh's flat JSON (--jsonfile).
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// TestTestsslFindsNothingAboveLow runs Debian's testssl.sh (3.0.x) against
// the real binary serving HTTPS with a certificate made here, on loopback
// only: --ip 127.0.0.1, no DNS lookups (--nodns none), no CRL or OCSP
// fetching (no --phone-out). It must report no finding of severity MEDIUM
// or above. The certificate is trusted through --add-ca, so "chain of
// trust" is judged like a CA's certificate; only that finding may be
// excused, as the certificate is self-signed.
func TestTestsslFindsNothingAboveLow(t *testing.T) {
	testssl := RequireTool(t, "testssl", "apt-get install testssl.sh")
	openssl := RequireTool(t, "openssl", "apt-get install openssl")
	s := newSite(t, nil)
	cert := WriteTestCert(t, s.dir, time.Now().Add(90*24*time.Hour), "localhost", "127.0.0.1")
	addr := FreePort(t)
	_, port, _ := net.SplitHostPort(addr)
	base := "https://localhost:" + port
	srv := s.startWith(base, httpsClient(cert.Pool, time.Second), "-addr", addr, "-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile)

	// The running binary exports the certificate's expiry for the alerts.
	res, err := httpsClient(cert.Pool, 5*time.Second).Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if v, ok := metricValue(scrape, "booking_tls_certificate_expiry_timestamp_seconds"); !ok || int64(v) != cert.Cert.NotAfter.Unix() {
		t.Errorf("expiry metric %v (%v), want %d", v, ok, cert.Cert.NotAfter.Unix())
	}

	out := t.TempDir()
	jsonPath := filepath.Join(out, "testssl.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The checks: protocols (-p), cipher categories (-s), forward secrecy
	// (-f), server preferences (-P), defaults and certificate (-S), HTTP
	// headers such as HSTS (-h) and the known vulnerabilities (-U); left
	// out are the per-cipher list (-e) and the client simulations (-c),
	// which take most of the time and judge nothing -s and -p do not.
	// /login answers 200 (/ redirects), so the header checks see a page.
	cmd := exec.CommandContext(ctx, testssl, "--quiet", "--color", "0", "--warnings", "off", "--fast",
		"--ip", "127.0.0.1", "--nodns", "none", "--openssl", openssl, "--add-ca", cert.CertFile,
		"--connect-timeout", "10", "--jsonfile", jsonPath,
		"-p", "-s", "-f", "-P", "-S", "-h", "-U", base+"/login")
	cmd.Dir = out
	start := time.Now()
	text, err := cmd.CombinedOutput()
	took := time.Since(start).Round(time.Second)
	// testssl's exit status is not a verdict (3.0 exits non-zero for some
	// warnings): the JSON is.
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("testssl: %v\n%s", err, text)
	}
	saveArtifact(t, "testssl.txt", text)
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatalf("testssl wrote no JSON (%v):\n%s", err, text)
	}
	saveArtifact(t, "testssl.json", raw)
	var findings []testsslFinding
	if err := json.Unmarshal(raw, &findings); err != nil {
		t.Fatalf("testssl JSON: %v", err)
	}

	// The self-signed certificate's trust is the one thing a test
	// certificate may fail; everything else is the server's doing.
	excused := map[string]bool{"cert_chain_of_trust": true}
	bySeverity := map[string]int{}
	byID := map[string]testsslFinding{}
	for _, f := range findings {
		bySeverity[f.Severity]++
		byID[f.ID] = f
		switch f.Severity {
		case "MEDIUM", "HIGH", "CRITICAL", "FATAL":
			if excused[f.ID] {
				t.Logf("excused (self-signed test certificate): %s %s: %s", f.Severity, f.ID, f.Finding)
				continue
			}
			t.Errorf("testssl: %s %s: %s", f.Severity, f.ID, f.Finding)
		case "LOW", "WARN":
			t.Logf("testssl: %s %s: %s", f.Severity, f.ID, f.Finding)
		}
	}
	// A run that tested nothing must not pass: the checks that matter
	// were made, with the answers the server is meant to give.
	for id, want := range map[string]string{
		"SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered", "TLS1_1": "not offered",
		"TLS1_2": "offered", "TLS1_3": "offered", "HSTS_time": "31536000", "HSTS_subdomains": "includes subdomains",
		"cert_trust": "Ok", "heartbleed": "not vulnerable",
	} {
		if f, ok := byID[id]; !ok || !strings.Contains(f.Finding, want) {
			t.Errorf("testssl %s: %q, want %q", id, f.Finding, want)
		}
	}
	var counts []string
	for sev, n := range bySeverity {
		counts = append(counts, fmt.Sprintf("%s %d", sev, n))
	}
	sort.Strings(counts)
	t.Logf("testssl took %s; %d findings: %s", took, len(findings), strings.Join(counts, ", "))
	for _, line := range strings.Split(string(text), "\n") {
		if summaryLine.MatchString(line) {
			t.Logf("testssl: %s", strings.TrimSpace(line))
		}
	}
	srv.stop()
}

// summaryLine picks the lines of testssl's report worth a glance in the
// test log.
var summaryLine = regexp.MustCompile(`^ (SSLv[23]|TLS 1(\.[123])?|Strict Transport Security|Chain of trust|Obsolete CBC|Strong encryption|LUCKY13|Negotiated (protocol|cipher)|Done) `)

// saveArtifact keeps a file of the run in $E2E_ARTIFACTS, when set (CI).
func saveArtifact(t *testing.T, name string, data []byte) {
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		return
	}
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if err != nil {
		t.Logf("artifact %s: %v", name, err)
	}
}

// metricValue finds an unlabelled series in a Prometheus text scrape.
func metricValue(scrape []byte, name string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(scrape)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}
