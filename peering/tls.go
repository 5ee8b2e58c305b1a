package peering

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrPeerCertificate is wrapped by TLS handshake failures caused by the
// peer's certificate: no certificate, a chain that does not verify against
// RootCAs, a leaf without the key usage of its TLS role, or (with
// PeerNames) no DNS name matching PeerNames. The message says which.
var ErrPeerCertificate = errors.New("peering: peer certificate not trusted")

// ServerTLSConfig is the TLS configuration of the listener, where Zoom is
// the TLS client: TLS 1.2 minimum, Certificates presented, and a client
// certificate required from Zoom and verified by the peer-identity policy
// (see PeerNames) for the clientAuth extended key usage.
//
// Zoom's certificate is verified in VerifyConnection rather than by Go's
// client certificate verification (ClientCAs is not set), so that a refusal
// wraps ErrPeerCertificate and says why. Call Validate first: the policy of
// an invalid configuration refuses every certificate.
func (c Config) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: c.Certificates,
		// Verification is done in VerifyConnection, with clientAuth and PeerNames.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return c.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageClientAuth)
		},
	}
}

// ClientTLSConfig is the TLS configuration of connections the SBC dials to
// Zoom, where Zoom is the TLS server: TLS 1.2 minimum, ClientCertificates
// (default Certificates) presented when Zoom asks for a client certificate,
// and Zoom's certificate verified by the peer-identity policy (see
// PeerNames) for the serverAuth extended key usage.
//
// Go's built-in verification is replaced by the policy
// (InsecureSkipVerify with VerifyConnection), because Zoom's peers are
// dialled by IP address: the name checked is a PeerNames entry, not the
// dialled host. The first client certificate Zoom's certificate request
// supports is presented, or the first one when it supports none (Zoom then
// decides; an SBC that sent nothing would get a less clear refusal). Call
// Validate first: the policy of an invalid configuration refuses every
// certificate.
func (c Config) ClientTLSConfig() *tls.Config {
	certs := c.clientCertificates()
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return c.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
		},
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if len(certs) == 0 {
				return &tls.Certificate{}, nil
			}
			for i := range certs {
				if cri.SupportsCertificate(&certs[i]) == nil {
					return &certs[i], nil
				}
			}
			return &certs[0], nil
		},
	}
}

// clientCertificates are the certificates presented to Zoom as TLS client.
func (c Config) clientCertificates() []tls.Certificate {
	if len(c.ClientCertificates) > 0 {
		return c.ClientCertificates
	}
	return c.Certificates
}

// usageName is the RFC 5280 name of an extended key usage in messages.
func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageAny:
		return "any"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	}
	return fmt.Sprintf("usage %d", int(u))
}

// usagesOf lists a certificate's extended key usages for messages.
func usagesOf(cert *x509.Certificate) string {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return "none"
	}
	var names []string
	for _, u := range cert.ExtKeyUsage {
		names = append(names, usageName(u))
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		names = append(names, oid.String())
	}
	return strings.Join(names, ", ")
}

// HasExtKeyUsage reports whether cert may be used for usage under the rules
// the peer-identity policy applies to a leaf: a certificate without an
// extended key usage extension may be used for anything, as may one that
// lists anyExtendedKeyUsage; otherwise usage must be listed.
func HasExtKeyUsage(cert *x509.Certificate, usage x509.ExtKeyUsage) bool {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range cert.ExtKeyUsage {
		if u == usage || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// verifyPeer applies the peer-identity policy to the certificates Zoom
// presented (leaf first) in a TLS role that needs usage: the leaf must allow
// usage, its chain must verify against RootCAs for usage (intermediates
// constrain it too), and, unless InsecureChainOnly, one of its DNS names
// must match PeerNames.
func (c Config) verifyPeer(certs []*x509.Certificate, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return fmt.Errorf("%w: no certificate presented", ErrPeerCertificate)
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         c.RootCAs,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	var inv x509.CertificateInvalidError
	switch {
	case err == nil:
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage && !HasExtKeyUsage(leaf, usage):
		return fmt.Errorf("%w: missing key usage: certificate %q does not allow %s, which its TLS role needs (its extended key usages: %s)",
			ErrPeerCertificate, leaf.Subject.CommonName, usageName(usage), usagesOf(leaf))
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return fmt.Errorf("%w: missing key usage: an intermediate CA of certificate %q does not allow %s, which its TLS role needs: %w",
			ErrPeerCertificate, leaf.Subject.CommonName, usageName(usage), err)
	default:
		return fmt.Errorf("%w: %w", ErrPeerCertificate, err)
	}
	if c.InsecureChainOnly {
		return nil
	}
	if len(c.PeerNames) == 0 {
		// Validate refuses this; never accept a certificate without a policy.
		return fmt.Errorf("%w: no PeerNames configured and InsecureChainOnly not set", ErrPeerCertificate)
	}
	for _, name := range leaf.DNSNames {
		for _, pattern := range c.PeerNames {
			if MatchPeerName(pattern, name) {
				return nil
			}
		}
	}
	if len(leaf.DNSNames) == 0 {
		return fmt.Errorf("%w: certificate %q has no DNS names; PeerNames allows %s",
			ErrPeerCertificate, leaf.Subject.CommonName, strings.Join(c.PeerNames, ", "))
	}
	return fmt.Errorf("%w: name mismatch: certificate names %s match none of PeerNames %s",
		ErrPeerCertificate, listNames(leaf.DNSNames, 10), strings.Join(c.PeerNames, ", "))
}

// listNames joins names for a message, the first max of them only.
func listNames(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// MatchPeerName reports whether a DNS name from a certificate's subject
// alternative names satisfies a PeerNames pattern. The comparison ignores
// ASCII case, and a name matches only as a whole; the rules are:
//
//   - An exact pattern ("sip.zoom.example") matches the same name, or a
//     certificate wildcard whose "*" is the complete left-most label and
//     stands for exactly one label of the pattern (RFC 6125 section
//     6.4.3): "*.zoom.example" in a certificate matches the pattern
//     "sip.zoom.example", but not "zoom.example" nor "a.sip.zoom.example".
//     Partial-label wildcards ("sip*.zoom.example") and wildcards over a
//     single label ("*.example") in certificates match nothing.
//   - A wildcard pattern ("*.zoom.example") matches a name of exactly one
//     more label, that label not empty and not "*": "sipa.zoom.example",
//     but not "zoom.example" nor "a.b.zoom.example". It also matches the
//     identical certificate wildcard "*.zoom.example", which covers the
//     same names.
func MatchPeerName(pattern, certName string) bool {
	pattern = strings.ToLower(pattern)
	certName = strings.ToLower(certName)
	if pattern == "" || certName == "" {
		return false
	}
	if pattern == certName {
		return !strings.Contains(pattern, "*") || validWildcard(pattern)
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		label, rest, found := strings.Cut(certName, ".")
		return found && rest == suffix && label != "" && !strings.Contains(label, "*")
	}
	if strings.Contains(pattern, "*") {
		return false
	}
	if suffix, ok := strings.CutPrefix(certName, "*."); ok {
		if !validWildcard(certName) {
			return false
		}
		label, rest, found := strings.Cut(pattern, ".")
		return found && label != "" && rest == suffix
	}
	return false
}

// validWildcard reports whether name is "*." followed by a name of at least
// two labels without further wildcards.
func validWildcard(name string) bool {
	suffix, ok := strings.CutPrefix(name, "*.")
	return ok && strings.Contains(suffix, ".") && !strings.Contains(suffix, "*") &&
		!strings.HasPrefix(suffix, ".") && !strings.HasSuffix(suffix, ".") && !strings.Contains(suffix, "..")
}

// CheckPeerName reports why pattern is not a valid PeerNames entry, or nil.
// A valid entry is a DNS name in ASCII (labels of 1-63 letters, digits and
// hyphens, not starting or ending with a hyphen; IDNs as xn-- A-labels; no
// trailing dot; not an IP address), or "*." followed by such a name of at
// least two labels. Config.Validate applies it to every entry.
func CheckPeerName(pattern string) error {
	if pattern == "" {
		return errors.New("empty name")
	}
	if _, err := netip.ParseAddr(pattern); err == nil {
		return fmt.Errorf("%q is an IP address; PeerNames are the DNS names in Zoom's certificate", pattern)
	}
	name := pattern
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		if !strings.Contains(suffix, ".") {
			return fmt.Errorf("%q: a wildcard must cover names under a domain of at least two labels (e.g. *.zoom.example)", pattern)
		}
		name = suffix
	}
	if len(name) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", pattern)
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Errorf("%q: write the name without a trailing dot", pattern)
	}
	for label := range strings.SplitSeq(name, ".") {
		if err := checkLabel(label); err != nil {
			return fmt.Errorf("%q is not a DNS name or *. wildcard: %w", pattern, err)
		}
	}
	return nil
}

// checkLabel checks one DNS label: 1-63 letters, digits and hyphens, not
// starting or ending with a hyphen.
func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("empty label")
	case len(label) > 63:
		return fmt.Errorf("label %q is longer than 63 characters", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			if r == '*' {
				return fmt.Errorf("label %q: a wildcard is only allowed as the whole left-most label", label)
			}
			return fmt.Errorf("label %q has %q (only letters, digits and hyphens; IDNs as xn-- A-labels)", label, r)
		}
	}
	return nil
}
