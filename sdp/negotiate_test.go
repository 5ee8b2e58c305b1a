package sdp

import (
	"errors"
	"reflect"
	"testing"
)

var (
	opus   = Format{PayloadType: 102, Name: "opus", ClockRate: 48000, Channels: 2}
	g722   = Format{PayloadType: 9, Name: "G722", ClockRate: 8000}
	pcmu   = Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	pcma   = Format{PayloadType: 8, Name: "PCMA", ClockRate: 8000}
	te101  = Format{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"}
	te96   = Format{PayloadType: 96, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}
	te48k  = Format{PayloadType: 110, Name: "telephone-event", ClockRate: 48000}
	cn     = Format{PayloadType: 13, Name: "CN", ClockRate: 8000}
	noName = Format{PayloadType: 97}
)

func TestFormatKinds(t *testing.T) {
	tests := []struct {
		f      Format
		te, cn bool
	}{
		{te101, true, false},
		{Format{Name: "TELEPHONE-EVENT"}, true, false},
		{cn, false, true},
		{Format{Name: "cn"}, false, true},
		{pcmu, false, false},
		{noName, false, false},
	}
	for _, tt := range tests {
		if got := tt.f.IsTelephoneEvent(); got != tt.te {
			t.Errorf("%+v.IsTelephoneEvent() = %v", tt.f, got)
		}
		if got := tt.f.IsComfortNoise(); got != tt.cn {
			t.Errorf("%+v.IsComfortNoise() = %v", tt.f, got)
		}
	}
}

func TestFilterFormats(t *testing.T) {
	zoom := []Format{opus, g722, pcmu, pcma, te101}
	tests := []struct {
		name    string
		offered []Format
		allowed []string
		want    []Format
	}{
		{"nil keeps all", zoom, nil, zoom},
		{"empty keeps all", zoom, []string{}, zoom},
		{"offer order, case-insensitive", zoom, []string{"telephone-event", "pcma", "PCMU"}, []Format{pcmu, pcma, te101}},
		{"telephone-event dropped unless listed", zoom, []string{"PCMU"}, []Format{pcmu}},
		{"nothing allowed is offered", zoom, []string{"G729"}, nil},
		{"nothing offered", nil, []string{"PCMU"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FilterFormats(tt.offered, tt.allowed); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FilterFormats = %+v, want %+v", got, tt.want)
			}
		})
	}
	got := FilterFormats(zoom, nil)
	got[0].Name = "changed"
	if zoom[0].Name != "opus" {
		t.Error("FilterFormats result aliases the offer")
	}
}

func TestHasAudioCodec(t *testing.T) {
	tests := []struct {
		name    string
		formats []Format
		want    bool
	}{
		{"none", nil, false},
		{"PCMU", []Format{pcmu}, true},
		{"telephone-event and CN only", []Format{te101, cn}, false},
		{"unnamed dynamic type", []Format{noName, te101}, false},
		{"codec after events", []Format{te101, cn, pcma}, true},
	}
	for _, tt := range tests {
		if got := HasAudioCodec(tt.formats); got != tt.want {
			t.Errorf("%s: HasAudioCodec = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAnswerFormats(t *testing.T) {
	offer := []Format{opus, g722, pcmu, pcma, te101}
	opus111 := opus
	opus111.PayloadType = 111
	pcmuAs96 := Format{PayloadType: 96, Name: "PCMU", ClockRate: 8000}
	pcmaAs0 := Format{PayloadType: 0, Name: "PCMA", ClockRate: 8000}
	opus16k := Format{PayloadType: 102, Name: "opus", ClockRate: 16000}
	tests := []struct {
		name     string
		offered  []Format
		answered []Format
		want     []Format
		wantErr  error
	}{
		{"subset in answer order", offer, []Format{pcma, pcmu, te101}, []Format{pcma, pcmu, te101}, nil},
		{"name case differs", offer, []Format{{PayloadType: 0, Name: "pcmu", ClockRate: 8000}}, []Format{{PayloadType: 0, Name: "pcmu", ClockRate: 8000}}, nil},
		{"dynamic payload types renumbered", offer, []Format{opus111, te96}, []Format{opus111, te96}, nil},
		{"telephone-event/48000 not offered", offer, []Format{pcmu, te48k}, []Format{pcmu}, nil},
		{"not offered codec dropped", offer, []Format{cn, pcmu}, []Format{pcmu}, nil},
		{"static type with another name dropped", offer, []Format{pcmaAs0, pcmu}, []Format{pcmu}, nil},
		{"static codec on dynamic type dropped", offer, []Format{pcmuAs96, pcma}, []Format{pcma}, nil},
		{"clock rate differs", offer, []Format{opus16k, pcmu}, []Format{pcmu}, nil},
		{"only telephone-event left", offer, []Format{te101}, []Format{te101}, ErrNoCommonCodec},
		{"nothing in common", []Format{pcmu}, []Format{pcma}, nil, ErrNoCommonCodec},
		{"empty answer", offer, nil, nil, ErrNoCommonCodec},
		{"unnamed formats never match", []Format{noName}, []Format{noName}, nil, ErrNoCommonCodec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AnswerFormats(tt.offered, tt.answered)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("AnswerFormats error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AnswerFormats = %+v, want %+v", got, tt.want)
			}
		})
	}
}
