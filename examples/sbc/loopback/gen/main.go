// Command gen writes the test-only certificates of the example SBC's
// loopback configuration (examples/sbc/loopback.yaml):
//
//	ca.pem              a throw-away CA, trusted by the SBC as "Zoom's" root (zoom.ca)
//	ca-key.pem          its private key, so tests can issue the fake Zoom peer's
//	                    certificate (peeringtest.LoadPKI)
//	sbc.pem             the SBC's TLS server certificate, serverAuth only, IP SANs
//	                    127.0.0.1 and ::1 (zoom.certificate)
//	sbc-key.pem         its private key (zoom.key)
//	sbc-client.pem      the SBC's TLS client certificate, clientAuth only, presented
//	                    when the SBC dials Zoom (zoom.client_certificate)
//	sbc-client-key.pem  its private key (zoom.client_key)
//
// The SBC's certificates are split by role the way public CAs issue them
// from 2026, when they stop putting clientAuth into TLS server
// certificates. Everything is ECDSA P-256 and valid for 20 years. The keys
// are published on purpose: never trust this CA outside tests.
//
// From the repository root:
//
//	go run ./examples/sbc/loopback/gen
//
// or, equivalently, go generate ./examples/sbc.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// validity is how long the CA and the SBC certificate stay valid.
const validity = 20 * 365 * 24 * time.Hour

func main() {
	out := flag.String("out", filepath.Join("examples", "sbc", "loopback"), "directory the PEM files are written to")
	flag.Parse()
	if err := generate(*out, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generate writes ca.pem, ca-key.pem, sbc.pem, sbc-key.pem, sbc-client.pem
// and sbc-client-key.pem into dir.
func generate(dir string, now time.Time) error {
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	notBefore := now.Add(-time.Hour).UTC().Truncate(time.Second)
	notAfter := notBefore.Add(validity)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "byocp loopback test CA (insecure, key is public)", Organization: []string{"byocp example"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	// Zoom's edge is TLS client and server to the SBC (mutual TLS both
	// ways): the SBC presents sbc.pem as server and sbc-client.pem as client.
	sbcKey, sbcDER, err := leaf(ca, caKey, "byocp loopback SBC", x509.ExtKeyUsageServerAuth, notBefore, notAfter)
	if err != nil {
		return fmt.Errorf("create SBC certificate: %w", err)
	}
	clientKey, clientDER, err := leaf(ca, caKey, "byocp loopback SBC (TLS client)", x509.ExtKeyUsageClientAuth, notBefore, notAfter)
	if err != nil {
		return fmt.Errorf("create SBC client certificate: %w", err)
	}

	files := []struct {
		name string
		mode os.FileMode
		data func() ([]byte, error)
	}{
		{"ca.pem", 0o644, func() ([]byte, error) { return certPEM(caDER), nil }},
		{"ca-key.pem", 0o600, func() ([]byte, error) { return keyPEM(caKey) }},
		{"sbc.pem", 0o644, func() ([]byte, error) { return certPEM(sbcDER), nil }},
		{"sbc-key.pem", 0o600, func() ([]byte, error) { return keyPEM(sbcKey) }},
		{"sbc-client.pem", 0o644, func() ([]byte, error) { return certPEM(clientDER), nil }},
		{"sbc-client-key.pem", 0o600, func() ([]byte, error) { return keyPEM(clientKey) }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, data, f.mode); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// leaf issues an SBC certificate for usage, signed by ca, with the IP SANs
// 127.0.0.1 and ::1 and the DNS SAN localhost.
func leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"byocp example"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	return key, der, nil
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// keyPEM encodes key as PKCS #8 ("PRIVATE KEY"), which tls.X509KeyPair and
// peeringtest.LoadPKI both read.
func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
