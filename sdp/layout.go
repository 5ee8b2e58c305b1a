package sdp

import "strings"

// activeLines returns the positions of the active audio and image streams
// among lines (byocp's SDP on a leg), -1 for none.
func activeLines(lines []mline) (audio, image int) {
	audio, image = -1, -1
	for i, l := range lines {
		if l.audio != nil && audio < 0 {
			audio = i
		}
		if l.image != nil && image < 0 {
			image = i
		}
	}
	return audio, image
}

// layout places the streams of byocp's next offer on a leg whose last SDP
// had the m-lines prev (none before the leg's first exchange) and whose
// last negotiated audio stream was at lastAudio (-1 if none yet). It
// returns prev with every m-line rejected, grown as needed, and the
// positions for the audio stream (when audio) and the image stream (when
// image), -1 for a stream not offered. No m-line is ever removed or
// reordered (RFC 3264 section 8).
//
// The audio stream takes, in this order: the leg's active audio m-line;
// the m-line of its last audio stream if it is still an audio m-line
// (disabled next to a T.38 image stream); the active image m-line when
// no image is offered (back from fax: the media type changes in place);
// a new m-line at the end.
//
// The image stream takes, in this order: the leg's active image m-line;
// the first rejected T.38 m-line (m=image 0 udptl t38, from an earlier
// fax or an offer byocp rejected it in); the active audio m-line when no
// audio is offered (to fax: the media type changes in place, as RFC 3264
// section 8.3.3 recommends for voice to fax); a new m-line at the end.
func layout(prev []mline, lastAudio int, audio, image bool) (lines []mline, audioAt, imageAt int) {
	lines = make([]mline, len(prev), len(prev)+2)
	for i, l := range prev {
		lines[i] = rejected(l)
	}
	activeAudio, activeImage := activeLines(prev)
	audioAt, imageAt = -1, -1
	if audio {
		switch {
		case activeAudio >= 0:
			audioAt = activeAudio
		case lastAudio >= 0 && lastAudio < len(prev) && strings.EqualFold(prev[lastAudio].typ, "audio"):
			audioAt = lastAudio
		case activeImage >= 0 && !image:
			audioAt = activeImage
		}
	}
	if image {
		switch {
		case activeImage >= 0:
			imageAt = activeImage
		case rejectedT38(prev) >= 0:
			imageAt = rejectedT38(prev)
		case activeAudio >= 0 && !audio:
			imageAt = activeAudio
		}
	}
	if audio && audioAt < 0 {
		audioAt = len(lines)
		lines = append(lines, mline{})
	}
	if image && imageAt < 0 {
		imageAt = len(lines)
		lines = append(lines, mline{})
	}
	return lines, audioAt, imageAt
}

// rejectedT38 returns the position of the first rejected T.38 m-line of
// lines, -1 if none.
func rejectedT38(lines []mline) int {
	for i, l := range lines {
		if l.port == 0 && l.image == nil && isT38(l.typ, l.proto, l.fmts) {
			return i
		}
	}
	return -1
}
