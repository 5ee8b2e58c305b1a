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

// TestGenerate checks that the generated files fit together: the SBC
// certificate chains to the CA for 127.0.0.1 and ::1, the key pairs match,
// and peeringtest.LoadPKI can issue the fake Zoom peer's certificate.
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
	pair, err := tls.X509KeyPair(read("sbc.pem"), read("sbc-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read("ca.pem")) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: now.AddDate(19, 0, 0)}); err != nil {
			t.Errorf("SBC certificate for %s: %v", host, err)
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
