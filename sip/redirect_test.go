package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// parsedResponse parses a response with the given status and header lines
// the way the endpoint's transport layer does.
func parsedResponse(t *testing.T, code int, headers ...string) Response {
	t.Helper()
	hdrs := append([]string{
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKredirect",
		"From: <sip:+14155550100@192.0.2.1>;tag=a",
		"To: <sip:+14155550199@192.0.2.2>;tag=b",
		"Call-ID: redirect-test",
		"CSeq: 1 INVITE",
	}, headers...)
	m, err := sip.ParseMessage([]byte(sipMsg(fmt.Sprintf("SIP/2.0 %d Redirect", code), hdrs, "")))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	res, ok := m.(*sip.Response)
	if !ok {
		t.Fatalf("parsed %T", m)
	}
	return responseFrom(res)
}

// targetString renders a target compactly for comparisons.
func targetString(t RedirectTarget) string {
	s := fmt.Sprintf("%s q=%g", t.URI, t.Q)
	if t.Transport != "" {
		s += " transport=" + t.Transport
	}
	if t.MAddr != "" {
		s += " maddr=" + t.MAddr
	}
	if t.Expires != 0 {
		s += " expires=" + t.Expires.String()
	}
	return s
}

func targetStrings(ts []RedirectTarget) []string {
	var out []string
	for _, t := range ts {
		out = append(out, targetString(t))
	}
	return out
}

func TestRedirectTargetsFormats(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		headers []string
		want    []string
	}{
		{
			name:    "one name-addr without q",
			code:    302,
			headers: []string{"Contact: <sip:+14155550123@198.51.100.21:5070>"},
			want:    []string{"sip:+14155550123@198.51.100.21:5070 q=1"},
		},
		{
			name:    "addr-spec: parameters after the URI are header parameters",
			code:    302,
			headers: []string{"Contact: sip:+1555@198.51.100.21;transport=tcp;q=0.5"},
			want:    []string{"sip:+1555@198.51.100.21 q=0.5"},
		},
		{
			name: "q-values order several fields and comma-separated values; ties keep their order",
			code: 300,
			headers: []string{
				`Contact: "Low" <sip:low@198.51.100.1>;q=0.1, <sip:first@198.51.100.2>;q=0.7`,
				"Contact: <sip:top@198.51.100.3:5080>;q=1.0",
				"m: <sip:second@198.51.100.4>;q=0.7,sip:none@198.51.100.5",
			},
			want: []string{
				"sip:top@198.51.100.3:5080 q=1",
				"sip:none@198.51.100.5 q=1",
				"sip:first@198.51.100.2 q=0.7",
				"sip:second@198.51.100.4 q=0.7",
				"sip:low@198.51.100.1 q=0.1",
			},
		},
		{
			name: "URI parameters inside angle brackets: transport, maddr; expires and Q in any case",
			code: 301,
			headers: []string{
				"Contact: <sip:+1555@gw.example;transport=TCP;maddr=198.51.100.9;user=phone>;Q=0.4;expires=3600",
				"Contact: <sips:+1555@[2001:db8::1]:5071>;q=0.3",
			},
			want: []string{
				"sip:+1555@gw.example q=0.4 transport=tcp maddr=198.51.100.9 expires=1h0m0s",
				"sips:+1555@[2001:db8::1]:5071 q=0.3",
			},
		},
		{
			name: "other schemes, expired, bad q and the wildcard are left out",
			code: 302,
			headers: []string{
				"Contact: <tel:+14155550123>",
				"Contact: <mailto:ops@carrier.example>, <sip:gone@198.51.100.1>;expires=0",
				"Contact: <sip:badq@198.51.100.2>;q=1.5, <sip:nanq@198.51.100.3>;q=high",
				"Contact: <sip:ok@198.51.100.4>;expires=soon",
				"Contact: *",
			},
			want: []string{"sip:ok@198.51.100.4 q=1"},
		},
		{
			name:    "no user part",
			code:    305,
			headers: []string{"Contact: <sip:198.51.100.30:5090>"},
			want:    []string{"sip:198.51.100.30:5090 q=1"},
		},
		{
			name:    "not a 3xx",
			code:    486,
			headers: []string{"Contact: <sip:busy@198.51.100.1>"},
		},
		{
			name: "no Contact",
			code: 302,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := targetStrings(parsedResponse(t, tt.code, tt.headers...).RedirectTargets())
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("RedirectTargets:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRedirectTargetsZeroResponse(t *testing.T) {
	if got := (Response{StatusCode: 302}).RedirectTargets(); got != nil {
		t.Errorf("zero Response: %v", got)
	}
}

// TestRedirectTargetsGenericHeader: a Contact added as a generic header
// field (not parsed by the transport layer) is read all the same.
func TestRedirectTargetsGenericHeader(t *testing.T) {
	res := sip.NewResponse(302, "Moved Temporarily")
	res.AppendHeader(sip.NewHeader("Contact", "<sip:b@198.51.100.2>;q=0.2, <sip:a@198.51.100.1>;q=0.9"))
	got := targetStrings(responseFrom(res).RedirectTargets())
	want := []string{"sip:a@198.51.100.1 q=0.9", "sip:b@198.51.100.2 q=0.2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRedirectTargetDestination(t *testing.T) {
	for _, tt := range []struct {
		target RedirectTarget
		port   int
		dest   string
	}{
		{RedirectTarget{URI: URI{Scheme: "sip", Host: "198.51.100.1"}}, 5060, "198.51.100.1:5060"},
		{RedirectTarget{URI: URI{Scheme: "sip", Host: "198.51.100.1", Port: 5070}}, 5070, "198.51.100.1:5070"},
		{RedirectTarget{URI: URI{Scheme: "sips", Host: "gw.example"}}, 5061, "gw.example:5061"},
		{RedirectTarget{URI: URI{Scheme: "sip", Host: "gw.example"}, Transport: "tls"}, 5061, "gw.example:5061"},
		{RedirectTarget{URI: URI{Scheme: "sip", Host: "gw.example"}, Transport: "tcp"}, 5060, "gw.example:5060"},
		{RedirectTarget{URI: URI{Scheme: "sip", Host: "gw.example", Port: 5080}, MAddr: "2001:db8::7"}, 5080, "[2001:db8::7]:5080"},
	} {
		if p, d := tt.target.Port(), tt.target.Destination(); p != tt.port || d != tt.dest {
			t.Errorf("%+v: Port %d, Destination %s; want %d, %s", tt.target, p, d, tt.port, tt.dest)
		}
	}
}

// TestRedirectTargetsFromInvite: a 302 on a real socket reaches the
// caller of Invite as a *StatusError whose Response lists the Contacts in
// q order, and the 302 is ACKed.
func TestRedirectTargetsFromInvite(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := startInvite(ctx, ep, uas, nil)

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	uas.send(inv.from, reply(inv, 302, "Moved Temporarily", "uasr", []string{
		"Contact: <sip:+14155550123@198.51.100.21>;q=0.5, <tel:+14155550123>",
		"Contact: <sip:+14155550124@198.51.100.22:5070;transport=udp>;q=0.8",
	}, ""))
	uas.expect("ACK for 302", isRequest(sip.ACK))
	r := waitInvite(t, results)
	var se *StatusError
	if !errors.As(r.err, &se) || se.Response.StatusCode != 302 {
		t.Fatalf("Invite error = %v, want StatusError 302", r.err)
	}
	got := targetStrings(se.Response.RedirectTargets())
	want := []string{
		"sip:+14155550124@198.51.100.22:5070 q=0.8 transport=udp",
		"sip:+14155550123@198.51.100.21 q=0.5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("RedirectTargets:\n got %q\nwant %q", got, want)
	}
}
