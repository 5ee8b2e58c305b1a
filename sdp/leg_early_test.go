package sdp

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestLegEarlyAnswer: a 183's SDP is checked (PeekAnswer) and answered to
// the caller (AnswerEarly) without committing either leg; the final answer
// then commits both, and the caller's final SDP is the early one, byte for
// byte (same key, same o= version), when the media did not change.
func TestLegEarlyAnswer(t *testing.T) {
	carrier, err := NewLeg(carrierLegConfig())
	if err != nil {
		t.Fatal(err)
	}
	zoom, err := NewLeg(zoomLegConfig())
	if err != nil {
		t.Fatal(err)
	}
	off, err := carrier.ReceiveOffer([]byte(carrierInvite))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zoom.OfferFrom(off.Media); err != nil {
		t.Fatal(err)
	}
	early := []byte(zoomAnswerSDP(1, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"))
	m, st, err := zoom.PeekAnswer(early)
	if err != nil {
		t.Fatal(err)
	}
	if st.Remote.Port() != 34170 || string(st.RemoteKey) != string(mustKey(keyCM128)) {
		t.Errorf("early state %+v", st)
	}
	if zoom.Current().Suite != "" {
		t.Error("PeekAnswer committed the Zoom leg")
	}
	earlyBody, err := carrier.AnswerEarly(m)
	if err != nil {
		t.Fatal(err)
	}
	if carrier.Current().Remote.IsValid() {
		t.Error("AnswerEarly committed the carrier leg")
	}
	// The final answer: the same SDP in the 200.
	final, err := zoom.TakeAnswer(early)
	if err != nil {
		t.Fatalf("TakeAnswer after PeekAnswer: %v", err)
	}
	body, err := carrier.Answer(final)
	if err != nil {
		t.Fatalf("Answer after AnswerEarly: %v", err)
	}
	if !bytes.Equal(body, earlyBody) {
		t.Errorf("final answer differs from the early one:\n%s\n---\n%s", body, earlyBody)
	}
	if _, err := carrier.AnswerEarly(final); !errors.Is(err, ErrState) {
		t.Errorf("AnswerEarly with nothing pending = %v", err)
	}
}

// TestLegEarlyAnswerChanged: when the final answer differs from the early
// one, byocp's final SDP to the caller gets the next o= version.
func TestLegEarlyAnswerChanged(t *testing.T) {
	carrier, _ := NewLeg(carrierLegConfig())
	zoom, _ := NewLeg(zoomLegConfig())
	off, err := carrier.ReceiveOffer([]byte(carrierInvite))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zoom.OfferFrom(off.Media); err != nil {
		t.Fatal(err)
	}
	early := []byte(zoomAnswerSDP(1, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"))
	m, _, err := zoom.PeekAnswer(early)
	if err != nil {
		t.Fatal(err)
	}
	earlyBody, err := carrier.AnswerEarly(m)
	if err != nil {
		t.Fatal(err)
	}
	final, err := zoom.TakeAnswer([]byte(zoomAnswerSDP(2, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendonly")))
	if err != nil {
		t.Fatal(err)
	}
	body, err := carrier.Answer(final)
	if err != nil {
		t.Fatal(err)
	}
	eo, _ := originOf(earlyBody)
	fo, _ := originOf(body)
	if fo.Version != eo.Version+1 || fo.SessionID != eo.SessionID {
		t.Errorf("origin early %+v final %+v: want the same session, next version", eo, fo)
	}
}

// originOf reads the o= line of an SDP body.
func originOf(body []byte) (Origin, bool) {
	for line := range bytes.SplitSeq(body, []byte("\r\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("o=")); ok {
			var o Origin
			var ip string
			if _, err := fmt.Sscanf(string(rest), "%s %d %d IN IP4 %s", &o.Username, &o.SessionID, &o.Version, &ip); err == nil {
				return o, true
			}
		}
	}
	return Origin{}, false
}
