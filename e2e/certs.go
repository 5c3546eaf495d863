package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCert is a self-signed certificate made for one test, in PEM files a
// server can load, with a pool for clients that should trust it.
type TestCert struct {
	CertFile, KeyFile string
	Cert              *x509.Certificate
	Pool              *x509.CertPool
}

// WriteTestCert makes a self-signed ECDSA P-256 certificate for names (host
// names or IP addresses), valid from an hour ago until notAfter, and writes
// it to cert.pem and key.pem in dir (replacing them: a renewal). It carries a
// CRL address as a CA's certificate does, so that a scanner judges the
// server rather than a test certificate's missing revocation info.
func WriteTestCert(tb testing.TB, dir string, notAfter time.Time, names ...string) TestCert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"booking tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own issuer, so a client can trust it as a root
		CRLDistributionPoints: []string{"http://crl.booking.invalid/test.crl"},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	tc := TestCert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Cert: cert, Pool: x509.NewCertPool()}
	tc.Pool.AddCert(cert)
	writePEM(tb, tc.KeyFile, "PRIVATE KEY", keyDER)
	writePEM(tb, tc.CertFile, "CERTIFICATE", der)
	return tc
}

// writePEM replaces path at once (a rename), as certbot swaps its files.
func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}
