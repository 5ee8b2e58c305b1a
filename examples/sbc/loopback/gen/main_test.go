package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/byocp/byocp/peering/peeringtest"
)

// TestGenerate checks that the generated files fit together: the SBC's
// server and client certificates chain to the CA for 127.0.0.1 and ::1,
// each for its own TLS role only, the key pairs match, and
// peeringtest.LoadPKI can issue the fake Zoom peer's certificate.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := generate(dir, now); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read("ca.pem")) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, f := range []struct {
		cert, key    string
		usage, wrong x509.ExtKeyUsage
	}{
		{"sbc.pem", "sbc-key.pem", x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		{"sbc-client.pem", "sbc-client-key.pem", x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	} {
		pair, err := tls.X509KeyPair(read(f.cert), read(f.key))
		if err != nil {
			t.Fatalf("%s: %v", f.cert, err)
		}
		for _, host := range []string{"127.0.0.1", "::1"} {
			opts := x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: now.AddDate(19, 0, 0), KeyUsages: []x509.ExtKeyUsage{f.usage}}
			if _, err := pair.Leaf.Verify(opts); err != nil {
				t.Errorf("%s for %s: %v", f.cert, host, err)
			}
		}
		opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{f.wrong}}
		if _, err := pair.Leaf.Verify(opts); err == nil {
			t.Errorf("%s is valid for the other TLS role too", f.cert)
		}
	}
	pki, err := peeringtest.LoadPKI(read("ca.pem"), read("ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	_ = zoom.Close()
}
