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
// as the CA. Not safe for concurrent use.
func (p *PKI) Issue(commonName string, ips []netip.Addr, dnsNames ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"byocp test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     p.ca.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
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
