package byocp

import (
	"slices"
	"testing"
)

func TestMapFailure(t *testing.T) {
	tests := []struct {
		code   int
		status int
		reason string
	}{
		// redirects are not followed
		{300, 480, "Temporarily Unavailable"},
		{301, 480, "Temporarily Unavailable"},
		{302, 480, "Temporarily Unavailable"},
		{305, 480, "Temporarily Unavailable"},
		{380, 480, "Temporarily Unavailable"},
		{399, 480, "Temporarily Unavailable"},
		// about byocp's request: byocp's fault
		{400, 500, "Server Internal Error"},
		// authentication and account towards the far side
		{401, 503, "Service Unavailable"},
		{402, 503, "Service Unavailable"},
		{407, 503, "Service Unavailable"},
		// kept, end to end
		{403, 403, "Forbidden"},
		{404, 404, "Not Found"},
		{408, 408, "Request Timeout"},
		{410, 410, "Gone"},
		{433, 433, "Anonymity Disallowed"},
		{480, 480, "Temporarily Unavailable"},
		{484, 484, "Address Incomplete"},
		{485, 485, "Ambiguous"},
		{486, 486, "Busy Here"},
		{488, 488, "Not Acceptable Here"},
		// about byocp's request or dialog on the far leg
		{405, 500, "Server Internal Error"},
		{413, 500, "Server Internal Error"},
		{414, 500, "Server Internal Error"},
		{416, 500, "Server Internal Error"},
		{417, 500, "Server Internal Error"},
		{420, 500, "Server Internal Error"},
		{421, 500, "Server Internal Error"},
		{422, 500, "Server Internal Error"},
		{423, 500, "Server Internal Error"},
		{424, 500, "Server Internal Error"},
		{425, 500, "Server Internal Error"},
		{428, 500, "Server Internal Error"},
		{429, 500, "Server Internal Error"},
		{430, 500, "Server Internal Error"},
		{436, 500, "Server Internal Error"},
		{437, 500, "Server Internal Error"},
		{438, 500, "Server Internal Error"},
		{439, 500, "Server Internal Error"},
		{440, 500, "Server Internal Error"},
		{469, 500, "Server Internal Error"},
		{470, 500, "Server Internal Error"},
		{481, 500, "Server Internal Error"},
		{482, 500, "Server Internal Error"},
		{483, 500, "Server Internal Error"},
		{489, 500, "Server Internal Error"},
		{491, 500, "Server Internal Error"},
		{493, 500, "Server Internal Error"},
		{494, 500, "Server Internal Error"},
		// media could not be negotiated
		{406, 488, "Not Acceptable Here"},
		{415, 488, "Not Acceptable Here"},
		{580, 488, "Not Acceptable Here"},
		// unsolicited 487: the far network ended the attempt
		{487, 480, "Temporarily Unavailable"},
		// unknown and unlisted 4xx: as 400
		{409, 500, "Server Internal Error"},
		{411, 500, "Server Internal Error"},
		{412, 500, "Server Internal Error"},
		{450, 500, "Server Internal Error"},
		{499, 500, "Server Internal Error"},
		// 5xx
		{500, 500, "Server Internal Error"},
		{501, 500, "Server Internal Error"},
		{502, 502, "Bad Gateway"},
		{503, 503, "Service Unavailable"},
		{504, 504, "Server Time-out"},
		{505, 500, "Server Internal Error"},
		{513, 500, "Server Internal Error"},
		{555, 500, "Server Internal Error"},
		// unknown 5xx: as 500
		{506, 500, "Server Internal Error"},
		{599, 500, "Server Internal Error"},
		// 6xx kept
		{600, 600, "Busy Everywhere"},
		{603, 603, "Decline"},
		{604, 604, "Does Not Exist Anywhere"},
		{606, 606, "Not Acceptable"},
		{607, 607, "Unwanted"},
		{608, 608, "Rejected"},
		// unknown 6xx: as 600
		{601, 600, "Busy Everywhere"},
		{699, 600, "Busy Everywhere"},
		// not a failure status
		{0, 500, "Server Internal Error"},
		{-1, 500, "Server Internal Error"},
		{100, 500, "Server Internal Error"},
		{183, 500, "Server Internal Error"},
		{200, 500, "Server Internal Error"},
		{299, 500, "Server Internal Error"},
		{700, 500, "Server Internal Error"},
		{999, 500, "Server Internal Error"},
	}
	tested := make(map[int]bool)
	for _, tt := range tests {
		tested[tt.code] = true
		status, reason := mapFailure(tt.code)
		if status != tt.status || reason != tt.reason {
			t.Errorf("mapFailure(%d) = %d %q, want %d %q", tt.code, status, reason, tt.status, tt.reason)
		}
	}
	for code := range failureCodes {
		if !tested[code] {
			t.Errorf("failureCodes[%d] has no test row", code)
		}
	}
}

// Whatever the far leg sends, the caller gets a final failure with a
// standard phrase and nothing that refers to the far leg itself.
func TestMapFailureProperties(t *testing.T) {
	forbidden := []int{401, 407, 420, 421, 422, 423, 481, 482, 483, 489, 491}
	for code := -1000; code <= 1000; code++ {
		status, reason := mapFailure(code)
		if status < 400 || status > 699 {
			t.Errorf("mapFailure(%d) = %d, not a final failure", code, status)
		}
		if reason == "" || reason != reasonPhrase(status) {
			t.Errorf("mapFailure(%d) = %d %q, want the standard phrase %q", code, status, reason, reasonPhrase(status))
		}
		if _, ok := reasonPhrases[status]; !ok {
			t.Errorf("mapFailure(%d) = %d, which has no phrase of its own", code, status)
		}
		if slices.Contains(forbidden, status) {
			t.Errorf("mapFailure(%d) = %d, which refers to the far leg", code, status)
		}
		if again, _ := mapFailure(status); again != status {
			t.Errorf("mapFailure(%d) = %d but mapFailure(%d) = %d: not a fixed point", code, status, status, again)
		}
	}
}

func TestFailureRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		code  int
		value string
		want  string // "" for none
	}{
		{"503 kept", 503, "30", "30"},
		{"503 with comment and duration", 503, "120 (overloaded);duration=60", "120"},
		{"503 with a parameter", 503, "5;duration=1", "5"},
		{"leading space", 503, "  7", "7"},
		{"zero", 503, "0", "0"},
		{"capped at an hour", 503, "86400", "3600"},
		{"beyond uint64, capped", 503, "99999999999999999999999", "3600"},
		{"486 kept", 486, "60", "60"},
		{"480 kept", 480, "60", "60"},
		{"404 kept", 404, "60", "60"},
		{"500 kept", 500, "60", "60"},
		{"600 kept", 600, "60", "60"},
		{"603 kept", 603, "60", "60"},
		{"no header", 503, "", ""},
		{"not a number", 503, "soon", ""},
		{"number glued to text", 503, "12abc", ""},
		{"negative", 503, "-5", ""},
		{"mapped 401 to 503: not the far side's advice", 401, "30", ""},
		{"mapped 487 to 480", 487, "30", ""},
		{"mapped 3xx to 480", 302, "30", ""},
		{"mapped 501 to 500", 501, "30", ""},
		{"kept, but no meaning in RFC 3261 section 20.33", 408, "30", ""},
		{"kept 502", 502, "30", ""},
		{"kept 504", 504, "30", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := mapFailure(tt.code)
			got, ok := failureRetryAfter(tt.code, status, tt.value)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("failureRetryAfter(%d, %d, %q) = %q, %v; want %q", tt.code, status, tt.value, got, ok, tt.want)
			}
		})
	}
}

func TestReasonPhrase(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{100, "Trying"},
		{183, "Session Progress"},
		{200, "OK"},
		{302, "Moved Temporarily"},
		{403, "Forbidden"},
		{408, "Request Timeout"},
		{433, "Anonymity Disallowed"},
		{480, "Temporarily Unavailable"},
		{481, "Call/Transaction Does Not Exist"},
		{488, "Not Acceptable Here"},
		{500, "Server Internal Error"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Server Time-out"},
		{604, "Does Not Exist Anywhere"},
		{606, "Not Acceptable"},
		{607, "Unwanted"},
		{608, "Rejected"},
		// codes without a registered phrase: the class name
		{150, "Provisional"},
		{250, "Success"},
		{350, "Redirection"},
		{499, "Request Failure"},
		{599, "Server Failure"},
		{699, "Global Failure"},
		{0, "Unknown Status"},
		{700, "Unknown Status"},
		{-404, "Unknown Status"},
	}
	for _, tt := range tests {
		if got := reasonPhrase(tt.code); got != tt.want {
			t.Errorf("reasonPhrase(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
	for code := -1000; code <= 1000; code++ {
		if reasonPhrase(code) == "" {
			t.Fatalf("reasonPhrase(%d) is empty", code)
		}
	}
}
