// Package trunk is the carrier side of a byocp Bridge: the SIP trunk to the
// customer's PSTN carrier.
//
// A Trunk listens for the carrier's INVITEs over UDP or TCP, admits them by
// source address (IP ACL), turns the carrier's number format into E.164 for
// the Bridge, and places calls towards the carrier's signalling address with
// numbers written the way the carrier wants them. Media on this leg is plain
// RTP (RTP/AVP); the Bridge relays it to and from SRTP on the Zoom side.
package trunk
