package sip

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strings"
)

// maxParts bounds the parts read from a multipart body.
const maxParts = 8

// SDPOf returns the SDP in a message body: the body itself when its
// Content-Type is application/sdp, or the application/sdp part of a
// multipart/mixed body (SIP-I, ITU-T Q.1912.5: SDP plus an ISUP part, which
// never leaves its leg); nil when there is none. It never fails: a body it
// cannot read has no SDP.
func SDPOf(contentType string, body []byte) []byte {
	if len(body) == 0 {
		return nil
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		if isSDP(contentType) {
			return body
		}
		return nil
	}
	switch {
	case mediaType == "application/sdp":
		return body
	case strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for range maxParts {
			p, err := r.NextPart()
			if err != nil {
				return nil
			}
			ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err != nil || ct != "application/sdp" {
				continue
			}
			sdp, err := io.ReadAll(io.LimitReader(p, int64(len(body))))
			if err != nil || len(sdp) == 0 {
				return nil
			}
			return sdp
		}
	}
	return nil
}

// SDP is the INVITE's SDP offer (see SDPOf); nil for an INVITE without
// one (Delayed Offer).
func (inv *Invite) SDP() []byte { return SDPOf(inv.ContentType, inv.Body) }

// SDP is the response's SDP (see SDPOf); nil without one.
func (r Response) SDP() []byte { return SDPOf(r.ContentType, r.Body) }

// SDP is the request's SDP (see SDPOf); nil without one.
func (r *DialogRequest) SDP() []byte { return SDPOf(r.ContentType, r.Body) }
