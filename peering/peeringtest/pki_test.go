package peeringtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/byocp/byocp/peering/peeringtest"
)

func TestIssueWith(t *testing.T) {
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(c tls.Certificate, usage x509.ExtKeyUsage) error {
		_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: pki.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	both, err := pki.IssueWith(peeringtest.IssueOptions{CommonName: "both", DNSNames: []string{"*.zoom.test", peeringtest.ZoomName},
		IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	if both.Leaf.Subject.CommonName != "both" || !slices.Equal(both.Leaf.DNSNames, []string{"*.zoom.test", peeringtest.ZoomName}) ||
		len(both.Leaf.IPAddresses) != 1 || !both.Leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("names: CN %q, DNS %v, IP %v", both.Leaf.Subject.CommonName, both.Leaf.DNSNames, both.Leaf.IPAddresses)
	}
	if verify(both, x509.ExtKeyUsageServerAuth) != nil || verify(both, x509.ExtKeyUsageClientAuth) != nil {
		t.Error("default usages are not serverAuth and clientAuth")
	}

	server, err := pki.IssueWith(peeringtest.IssueOptions{ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	if verify(server, x509.ExtKeyUsageServerAuth) != nil || verify(server, x509.ExtKeyUsageClientAuth) == nil {
		t.Errorf("server-only certificate has usages %v", server.Leaf.ExtKeyUsage)
	}

	none, err := pki.IssueWith(peeringtest.IssueOptions{NoExtKeyUsage: true, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range none.Leaf.Extensions {
		if ext.Id.Equal([]int{2, 5, 29, 37}) {
			t.Error("NoExtKeyUsage certificate has an extended key usage extension")
		}
	}

	expired, err := pki.IssueWith(peeringtest.IssueOptions{NotAfter: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !expired.Leaf.NotAfter.Before(time.Now()) || !expired.Leaf.NotBefore.Before(expired.Leaf.NotAfter) {
		t.Errorf("expired certificate valid %v to %v", expired.Leaf.NotBefore, expired.Leaf.NotAfter)
	}
	if verify(expired, x509.ExtKeyUsageServerAuth) == nil {
		t.Error("expired certificate verifies")
	}
}

// presented connects to a fake Zoom peer and returns the leaf it presents.
func presented(t *testing.T, pki *peeringtest.PKI, zoom *peeringtest.Zoom) *x509.Certificate {
	t.Helper()
	client, err := pki.Issue("sbc", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", zoom.Addr().String(),
		&tls.Config{RootCAs: pki.Pool(), ServerName: peeringtest.ZoomName, Certificates: []tls.Certificate{client}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func TestZoomCertificate(t *testing.T) {
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	defer zoom.Close()
	// The dial above verified the default certificate for ZoomName.
	if leaf := presented(t, pki, zoom); !slices.Contains(leaf.DNSNames, peeringtest.ZoomName) {
		t.Errorf("default certificate names %v", leaf.DNSNames)
	}

	mine, err := pki.IssueWith(peeringtest.IssueOptions{CommonName: "chosen", DNSNames: []string{peeringtest.ZoomName}})
	if err != nil {
		t.Fatal(err)
	}
	chosen, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Certificate: &mine})
	if err != nil {
		t.Fatal(err)
	}
	defer chosen.Close()
	if leaf := presented(t, pki, chosen); leaf.Subject.CommonName != "chosen" {
		t.Errorf("Config.Certificate not presented: got %q", leaf.Subject.CommonName)
	}
}
