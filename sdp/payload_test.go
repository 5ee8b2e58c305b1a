package sdp

import (
	"reflect"
	"testing"
)

func TestPayloadNumbering(t *testing.T) {
	opus96 := Format{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2}
	te96 := Format{PayloadType: 96, Name: "telephone-event", ClockRate: 8000}
	g729 := Format{PayloadType: 18, Name: "G729", ClockRate: 8000}
	pcmuOn8 := Format{PayloadType: 8, Name: "PCMU", ClockRate: 8000}
	var b ptBook
	b.learn([]Format{{PayloadType: 97, Name: "telephone-event", ClockRate: 8000}}, []Format{opus96, pcmu})
	got := b.number([]Format{pcmu, te96, opus96, g729, pcmuOn8, {PayloadType: 100, Name: "L16", ClockRate: 16000}})
	want := []Format{
		pcmu, // kept
		{PayloadType: 97, Name: "telephone-event", ClockRate: 8000}, // byocp's number on this leg
		opus96, // the peer's number
		g729,   // the other leg's number, free here
		{PayloadType: 100, Name: "L16", ClockRate: 16000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("number:\n got %+v\nwant %+v", got, want)
	}
	// 96 and 97 are bound here: a new dynamic codec takes the lowest free.
	got = b.number([]Format{{PayloadType: 97, Name: "G7221", ClockRate: 16000}, {PayloadType: 0, Name: "iLBC", ClockRate: 8000}})
	want = []Format{{PayloadType: 98, Name: "G7221", ClockRate: 16000}, {PayloadType: 99, Name: "iLBC", ClockRate: 8000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("number with collisions:\n got %+v\nwant %+v", got, want)
	}
}
