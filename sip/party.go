package sip

// Party is a calling or called party as the Bridge passes it between legs:
// a number (E.164 with "+" between the legs) and an optional display name.
type Party struct {
	Number string
	Name   string
}
