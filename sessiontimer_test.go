package byocp

import (
	"testing"
	"time"

	"github.com/byocp/byocp/sip"
)

func TestAnswerTimer(t *testing.T) {
	now := time.Unix(1000, 0)
	zoom := sip.SessionTimers{}
	s := time.Second
	for _, tc := range []struct {
		name      string
		req       sip.SessionTimer
		cfg       sip.SessionTimers
		interval  time.Duration
		weRefresh bool
		se        string
		require   bool
		tooSmall  time.Duration
	}{
		{"Zoom's INVITE: 1800, Min-SE 90, no refresher", sip.SessionTimer{Expires: 1800 * s, MinSE: 90 * s, Supported: true}, zoom,
			1800 * s, false, "1800;refresher=uac", true, 0},
		{"asks us to refresh", sip.SessionTimer{Expires: 600 * s, Refresher: sip.RefresherUAS, Supported: true}, zoom,
			600 * s, true, "600;refresher=uas", true, 0},
		{"too short: 422", sip.SessionTimer{Expires: 60 * s, Supported: true}, zoom, 0, false, "", false, 90 * s},
		{"longer than we accept: lowered", sip.SessionTimer{Expires: 7200 * s, Supported: true}, zoom,
			1800 * s, false, "1800;refresher=uac", true, 0},
		{"lowered no further than the peer's Min-SE", sip.SessionTimer{Expires: 7200 * s, MinSE: 3600 * s, Supported: true}, zoom,
			3600 * s, false, "3600;refresher=uac", true, 0},
		{"supported but no interval: we choose", sip.SessionTimer{Supported: true}, zoom, 1800 * s, false, "1800;refresher=uac", true, 0},
		{"peer without the extension: we refresh, no Require", sip.SessionTimer{}, zoom, 1800 * s, true, "1800;refresher=uas", false, 0},
		{"refresher=uac from a peer without Supported: we refresh", sip.SessionTimer{Expires: 900 * s, Refresher: sip.RefresherUAC}, zoom,
			900 * s, true, "900;refresher=uas", false, 0},
		{"off", sip.SessionTimer{Expires: 1800 * s, Supported: true}, sip.SessionTimers{Off: true}, 0, false, "", false, 0},
	} {
		lt, hdrs, small := answerTimer(tc.req, tc.cfg, now)
		if tc.tooSmall != 0 {
			if small == nil || small.MinSE != tc.tooSmall {
				t.Errorf("%s: tooSmall = %v, want Min-SE %s", tc.name, small, tc.tooSmall)
			}
			continue
		}
		if small != nil {
			t.Errorf("%s: 422 %v", tc.name, small)
			continue
		}
		if lt.interval != tc.interval || lt.weRefresh != tc.weRefresh {
			t.Errorf("%s: timer %+v", tc.name, lt)
		}
		got := map[string]string{}
		for _, h := range hdrs {
			got[h.Name] = h.Value
		}
		if got["Session-Expires"] != tc.se || (got["Require"] == "timer") != tc.require {
			t.Errorf("%s: headers %v", tc.name, got)
		}
	}
}

func TestLegTimerSchedule(t *testing.T) {
	now := time.Unix(1000, 0)
	peer := legTimer{interval: 1800 * time.Second, last: now}
	if !peer.refreshDue().IsZero() || peer.expires() != now.Add(1768*time.Second) {
		t.Errorf("peer refreshes: due %v, expires %v", peer.refreshDue(), peer.expires())
	}
	ours := legTimer{interval: 90 * time.Second, weRefresh: true, last: now}
	if ours.refreshDue() != now.Add(45*time.Second) || ours.expires() != now.Add(90*time.Second) {
		t.Errorf("we refresh: due %v, expires %v", ours.refreshDue(), ours.expires())
	}
	short := legTimer{interval: 3 * time.Second, last: now}
	if short.expires() != now.Add(2*time.Second) {
		t.Errorf("short interval expires %v", short.expires())
	}
	if dt := dialledTimer(sip.SessionTimer{Expires: 1800 * time.Second, Refresher: sip.RefresherUAC}, sip.SessionTimers{}, now); !dt.weRefresh {
		t.Error("refresher=uac in the 2xx to our INVITE: we refresh")
	}
	if dt := dialledTimer(sip.SessionTimer{}, sip.SessionTimers{}, now); dt.on() {
		t.Error("no Session-Expires in the 2xx: no timer")
	}
}
