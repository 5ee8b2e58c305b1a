package peeringtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"time"
)

// PKI is a throw-away certificate authority for tests: it issues the
// certificates the fake Zoom peer and the Bridge under test present to each
// other for mutual TLS.
type PKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caDER  []byte
	pool   *x509.CertPool
	serial int64
}

// NewPKI creates a CA valid for validFor (default 24 h when 0).
func NewPKI(name string, validFor time.Duration) (*PKI, error) {
	if validFor <= 0 {
		validFor = 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"byocp test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &PKI{ca: ca, caKey: key, caDER: der, pool: pool, serial: 1}, nil
}

// Pool is a certificate pool holding the CA: the RootCAs to trust.
func (p *PKI) Pool() *x509.CertPool { return p.pool }

// CAPEM is the CA certificate in PEM.
func (p *PKI) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.caDER})
}

// Issue creates a certificate for commonName with the given IP and DNS
// subject alternative names, usable as TLS server and client, valid as long
// as the CA. Not safe for concurrent use. IssueWith chooses more.
func (p *PKI) Issue(commonName string, ips []netip.Addr, dnsNames ...string) (tls.Certificate, error) {
	return p.IssueWith(IssueOptions{CommonName: commonName, IPs: ips, DNSNames: dnsNames})
}

// IssueOptions says what IssueWith puts into a certificate. The zero value
// is a certificate without names, usable as TLS server and client.
type IssueOptions struct {
	// CommonName is the subject's common name (not checked by TLS peers;
	// names go in DNSNames).
	CommonName string
	// DNSNames are the DNS subject alternative names, e.g.
	// []string{ZoomName} or a wildcard such as "*.zoom.test".
	DNSNames []string
	// IPs are the IP address subject alternative names.
	IPs []netip.Addr
	// ExtKeyUsages are the extended key usages; nil means serverAuth and
	// clientAuth. For example []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	// issues a server-only certificate, as public CAs do from 2026. An
	// empty non-nil slice is the same as NoExtKeyUsage.
	ExtKeyUsages []x509.ExtKeyUsage
	// NoExtKeyUsage leaves out the extended key usage extension altogether
	// (ExtKeyUsages is then ignored): TLS stacks, Go's included, accept such
	// a certificate for any usage.
	NoExtKeyUsage bool
	// NotAfter ends the validity; zero means the CA's. A time in the past
	// issues an expired certificate (its NotBefore is then an hour before
	// NotAfter).
	NotAfter time.Time
}

// IssueWith creates a certificate signed by the CA as o describes, with a
// fresh ECDSA P-256 key; tls.Certificate.Leaf is set. Not safe for
// concurrent use.
func (p *PKI) IssueWith(o IssueOptions) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	p.serial++
	notAfter := p.ca.NotAfter
	if !o.NotAfter.IsZero() {
		notAfter = o.NotAfter
	}
	notBefore := time.Now().Add(-time.Hour)
	if !notBefore.Before(notAfter) {
		notBefore = notAfter.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: o.CommonName, Organization: []string{"byocp test"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     o.DNSNames,
	}
	switch {
	case o.NoExtKeyUsage:
		tmpl.ExtKeyUsage = nil
	case o.ExtKeyUsages != nil:
		tmpl.ExtKeyUsage = o.ExtKeyUsages
	}
	for _, ip := range o.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peeringtest: issue: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peeringtest: issue: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// EncodePEM returns a certificate's chain and key in PEM, as the example
// SBC reads them from files.
func EncodePEM(c tls.Certificate) (certPEM, keyPEM []byte, err error) {
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, ok := c.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("peeringtest: key type %T not supported", c.PrivateKey)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// CAKeyPEM is the CA's private key in PEM, for tools that must issue more
// certificates later (see LoadPKI). Test material only.
func (p *PKI) CAKeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(p.caKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// LoadPKI rebuilds a PKI from a CA certificate and its ECDSA key in PEM, so
// that certificates committed as test fixtures can be extended (for example
// the example SBC's loopback configuration).
func LoadPKI(caCertPEM, caKeyPEM []byte) (*PKI, error) {
	cb, _ := pem.Decode(caCertPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("peeringtest: LoadPKI: no CERTIFICATE block in the CA certificate")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("peeringtest: LoadPKI: %w", err)
	}
	kb, _ := pem.Decode(caKeyPEM)
	if kb == nil {
		return nil, fmt.Errorf("peeringtest: LoadPKI: no PEM block in the CA key")
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = fmt.Errorf("key type %T is not ECDSA", k)
			}
		}
	default:
		err = fmt.Errorf("PEM block %q is not a private key", kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("peeringtest: LoadPKI: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serial := time.Now().UnixNano()
	return &PKI{ca: ca, caKey: key, caDER: cb.Bytes, pool: pool, serial: serial}, nil
}
