package sip

import "testing"

func TestSDPOf(t *testing.T) {
	sipI := "--b1\r\nContent-Type: application/sdp\r\n\r\n" + offerSDP + "\r\n--b1\r\nContent-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x02\x03\r\n--b1--\r\n"
	isupFirst := "--b2\r\nContent-Type: application/isup\r\n\r\nIAM\r\n--b2\r\nContent-Type: application/sdp\r\n\r\n" + offerSDP + "\r\n--b2--\r\n"
	for _, tc := range []struct {
		name, ct, body, want string
	}{
		{"plain SDP", "application/sdp", offerSDP, offerSDP},
		{"SDP with parameters", "Application/SDP; charset=utf-8", offerSDP, offerSDP},
		{"SIP-I: SDP first", "multipart/mixed;boundary=b1", sipI, offerSDP},
		{"SIP-I: ISUP first", `multipart/mixed; boundary="b2"`, isupFirst, offerSDP},
		{"ISUP only", "application/isup", "IAM", ""},
		{"multipart without SDP", "multipart/mixed;boundary=b3", "--b3\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b3--\r\n", ""},
		{"broken multipart", "multipart/mixed;boundary=b4", "garbage", ""},
		{"multipart without boundary", "multipart/mixed", sipI, ""},
		{"no body", "application/sdp", "", ""},
		{"unparseable content type", "application/sdp;;==", offerSDP, offerSDP},
	} {
		if got := string(SDPOf(tc.ct, []byte(tc.body))); got != tc.want {
			t.Errorf("%s: SDPOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
