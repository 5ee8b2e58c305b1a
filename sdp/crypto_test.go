package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSuiteKeyLen(t *testing.T) {
	tests := []struct {
		suite Suite
		want  int
	}{
		{SuiteAEADAES256GCM, 44},
		{SuiteAES256CMHMACSHA180, 46},
		{SuiteAESCM128HMACSHA180, 30},
		{SuiteAESCM128HMACSHA132, 30},
		{SuiteAES256CMHMACSHA132, 46},
		{SuiteAEADAES128GCM, 28},
		{"AES_CM_256_HMAC_SHA1_80", 0}, // diago's non-RFC spelling
		{"aes_cm_128_hmac_sha1_80", 0},
		{"F8_128_HMAC_SHA1_80", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := tt.suite.KeyLen(); got != tt.want {
			t.Errorf("%q.KeyLen() = %d, want %d", tt.suite, got, tt.want)
		}
		if got := tt.suite.Known(); got != (tt.want > 0) {
			t.Errorf("%q.Known() = %v", tt.suite, got)
		}
	}
}

func TestParseCrypto(t *testing.T) {
	unpad := func(s string) string { return strings.TrimRight(s, "=") }
	key128 := mustKey(keyCM128)
	tests := []struct {
		name  string
		value string
		want  Crypto
		emit  string // String(); "" means the input value
	}{
		{"GCM-256 padded", "1 AEAD_AES_256_GCM inline:" + keyGCM256,
			Crypto{Tag: 1, Suite: SuiteAEADAES256GCM, KeySalt: mustKey(keyGCM256)}, ""},
		{"GCM-256 unpadded", "1 AEAD_AES_256_GCM inline:" + unpad(keyGCM256),
			Crypto{Tag: 1, Suite: SuiteAEADAES256GCM, KeySalt: mustKey(keyGCM256)}, "1 AEAD_AES_256_GCM inline:" + keyGCM256},
		{"CM-256 padded", "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256,
			Crypto{Tag: 2, Suite: SuiteAES256CMHMACSHA180, KeySalt: mustKey(keyCM256)}, ""},
		{"CM-256 unpadded", "2 AES_256_CM_HMAC_SHA1_80 inline:" + unpad(keyCM256),
			Crypto{Tag: 2, Suite: SuiteAES256CMHMACSHA180, KeySalt: mustKey(keyCM256)}, "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
		{"CM-128/80", "3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128,
			Crypto{Tag: 3, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128}, ""},
		{"CM-128/32", "4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128b,
			Crypto{Tag: 4, Suite: SuiteAESCM128HMACSHA132, KeySalt: mustKey(keyCM128b)}, ""},
		{"CM-256/32", "5 AES_256_CM_HMAC_SHA1_32 inline:" + keyCM256alt,
			Crypto{Tag: 5, Suite: SuiteAES256CMHMACSHA132, KeySalt: mustKey(keyCM256alt)}, ""},
		{"GCM-128", "6 AEAD_AES_128_GCM inline:" + base64.StdEncoding.EncodeToString(key128[:28]),
			Crypto{Tag: 6, Suite: SuiteAEADAES128GCM, KeySalt: key128[:28]}, ""},
		{"lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^31",
			Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128, Lifetime: "2^31"}, ""},
		{"decimal lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|1048576",
			Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128, Lifetime: "1048576"}, ""},
		{"MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|1:4",
			Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128, MKI: "1:4"}, ""},
		{"lifetime and MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^20|1:32",
			Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128, Lifetime: "2^20", MKI: "1:32"}, ""},
		{"session params", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "  UNENCRYPTED_SRTCP\tKDR=1 ",
			Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128, SessionParams: "UNENCRYPTED_SRTCP KDR=1"},
			"1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + " UNENCRYPTED_SRTCP KDR=1"},
		{"INLINE upper case, extra spaces", "  7  AES_CM_128_HMAC_SHA1_80   INLINE:" + keyCM128,
			Crypto{Tag: 7, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128}, "7 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128},
		{"max tag", "999999999 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128,
			Crypto{Tag: 999999999, Suite: SuiteAESCM128HMACSHA180, KeySalt: key128}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCrypto(tt.value)
			if err != nil {
				t.Fatalf("ParseCrypto: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCrypto:\n got %+v\nwant %+v", got, tt.want)
			}
			emit := tt.emit
			if emit == "" {
				emit = tt.value
			}
			if s := got.String(); s != emit {
				t.Errorf("String() = %q, want %q", s, emit)
			}
			again, err := ParseCrypto(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("re-parse = %+v, %v", again, err)
			}
		})
	}
}

func TestParseCryptoErrors(t *testing.T) {
	key42 := base64.StdEncoding.EncodeToString(make([]byte, 42)) // rtpengine #1197: 42 for GCM
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", ErrBadCrypto},
		{"two fields", "1 AES_CM_128_HMAC_SHA1_80", ErrBadCrypto},
		{"tag not a number", "x AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128, ErrBadCrypto},
		{"negative tag", "-1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128, ErrBadCrypto},
		{"tag too long", "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128, ErrBadCrypto},
		{"unknown suite", "1 F8_128_HMAC_SHA1_80 inline:" + keyCM128, ErrUnknownSuite},
		{"key in suite position", "1 inline:" + keyCM128 + " AES_CM_128_HMAC_SHA1_80", ErrUnknownSuite},
		{"key in tag position", keyCM128 + " AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128, ErrBadCrypto},
		{"non-RFC suite name", "1 AES_CM_256_HMAC_SHA1_80 inline:" + keyCM256, ErrUnknownSuite},
		{"GCM-256 with 42 bytes", "1 AEAD_AES_256_GCM inline:" + key42, ErrBadCrypto},
		{"GCM-256 with 46 bytes", "1 AEAD_AES_256_GCM inline:" + keyCM256, ErrBadCrypto},
		{"CM-256 with 30 bytes", "1 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM128, ErrBadCrypto},
		{"CM-128 with 44 bytes", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyGCM256, ErrBadCrypto},
		{"CM-128 with empty key", "1 AES_CM_128_HMAC_SHA1_80 inline:", ErrBadCrypto},
		{"not base64", "1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.Repeat("*", 40), ErrBadCrypto},
		{"padding inside", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128[:20] + "=" + keyCM128[21:], ErrBadCrypto},
		{"not inline", "1 AES_CM_128_HMAC_SHA1_80 uri:" + keyCM128, ErrBadCrypto},
		{"no method", "1 AES_CM_128_HMAC_SHA1_80 " + keyCM128, ErrBadCrypto},
		{"two keys", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^20|1:4;inline:" + keyCM128b + "|2^20|2:4", ErrUnsupportedCrypto},
		{"two keys without MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + ";inline:" + keyCM128b, ErrUnsupportedCrypto},
		{"bad lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^x", ErrBadCrypto},
		{"empty lifetime field", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "||1:4", ErrBadCrypto},
		{"MKI length 0", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|1:0", ErrBadCrypto},
		{"MKI length 129", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|1:129", ErrBadCrypto},
		{"MKI not digits", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|a:4", ErrBadCrypto},
		{"MKI before lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|1:4|2^31", ErrBadCrypto},
		{"too many fields", "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^31|1:4|x", ErrBadCrypto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCrypto(tt.value)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrBadCrypto) {
				t.Fatalf("ParseCrypto error = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(got, Crypto{}) {
				t.Errorf("ParseCrypto returned %+v with an error", got)
			}
			if k := strings.TrimRight(keyCM128, "="); strings.Contains(err.Error(), k[:16]) {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

// Unknown suite names are worth logging (rtpengine #703), keys are not.
func TestParseCryptoErrorNamesSuite(t *testing.T) {
	_, err := ParseCrypto("1 AES_CM_256_HMAC_SHA1_80 inline:" + keyCM256)
	if err == nil || !strings.Contains(err.Error(), "AES_CM_256_HMAC_SHA1_80") {
		t.Errorf("error %v does not name the suite", err)
	}
}

func TestNewCrypto(t *testing.T) {
	for _, s := range []Suite{SuiteAEADAES256GCM, SuiteAES256CMHMACSHA180, SuiteAESCM128HMACSHA180, SuiteAESCM128HMACSHA132, SuiteAES256CMHMACSHA132, SuiteAEADAES128GCM} {
		a, err := NewCrypto(3, s)
		if err != nil {
			t.Fatalf("NewCrypto(%s): %v", s, err)
		}
		b, _ := NewCrypto(3, s)
		if a.Tag != 3 || a.Suite != s || len(a.KeySalt) != s.KeyLen() {
			t.Errorf("NewCrypto(%s) = %+v", s, a)
		}
		if bytes.Equal(a.KeySalt, b.KeySalt) || bytes.Equal(a.KeySalt, make([]byte, s.KeyLen())) {
			t.Errorf("NewCrypto(%s): keys are not random", s)
		}
		back, err := ParseCrypto(a.String())
		if err != nil || !reflect.DeepEqual(back, a) {
			t.Errorf("ParseCrypto(%q) = %+v, %v", a.String(), back, err)
		}
	}
	if _, err := NewCrypto(1, "AES_CM_256_HMAC_SHA1_80"); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("unknown suite: err = %v", err)
	}
	for _, tag := range []int{-1, 1000000000} {
		if _, err := NewCrypto(tag, SuiteAESCM128HMACSHA180); !errors.Is(err, ErrBadCrypto) {
			t.Errorf("tag %d: err = %v", tag, err)
		}
	}
}

func TestSelectCrypto(t *testing.T) {
	zoom := zoomMedia.Crypto
	short := Crypto{Tag: 9, Suite: SuiteAESCM128HMACSHA180, KeySalt: make([]byte, 16)}
	tests := []struct {
		name    string
		offered []Crypto
		prefs   []Suite
		wantTag int
		wantOK  bool
	}{
		{"prefer CM-128/80 over GCM", zoom, []Suite{SuiteAESCM128HMACSHA180, SuiteAEADAES256GCM}, 3, true},
		{"prefer GCM", zoom, []Suite{SuiteAEADAES256GCM, SuiteAESCM128HMACSHA180}, 1, true},
		{"prefs order, not offer order", zoom, []Suite{SuiteAESCM128HMACSHA132, SuiteAES256CMHMACSHA180}, 4, true},
		{"first pref not offered", zoom, []Suite{SuiteAEADAES128GCM, SuiteAES256CMHMACSHA180}, 2, true},
		{"nothing preferred is offered", zoom, []Suite{SuiteAEADAES128GCM, SuiteAES256CMHMACSHA132}, 0, false},
		{"nil prefs: first offered", zoom, nil, 1, true},
		{"bad key skipped", []Crypto{short, zoom[2]}, []Suite{SuiteAESCM128HMACSHA180}, 3, true},
		{"bad key skipped, nil prefs", []Crypto{short, zoom[3]}, nil, 4, true},
		{"only a bad key", []Crypto{short}, []Suite{SuiteAESCM128HMACSHA180}, 0, false},
		{"unknown suite with a key", []Crypto{{Tag: 1, Suite: "X", KeySalt: make([]byte, 30)}}, nil, 0, false},
		{"same suite twice: first", []Crypto{zoom[2], {Tag: 7, Suite: SuiteAESCM128HMACSHA180, KeySalt: zoom[3].KeySalt}}, []Suite{SuiteAESCM128HMACSHA180}, 3, true},
		{"nothing offered", nil, []Suite{SuiteAESCM128HMACSHA180}, 0, false},
		{"MKI skipped for the same suite", []Crypto{withMKI(zoom[2]), {Tag: 7, Suite: SuiteAESCM128HMACSHA180, KeySalt: zoom[3].KeySalt}}, []Suite{SuiteAESCM128HMACSHA180}, 7, true},
		{"MKI skipped for the next suite", []Crypto{withMKI(zoom[2]), zoom[3]}, []Suite{SuiteAESCM128HMACSHA180, SuiteAESCM128HMACSHA132}, 4, true},
		{"MKI skipped, nil prefs", []Crypto{withMKI(zoom[0]), zoom[1]}, nil, 2, true},
		{"only MKI lines", []Crypto{withMKI(zoom[0]), withMKI(zoom[2])}, nil, 0, false},
		{"session parameter skipped", []Crypto{withParams(zoom[2], "UNENCRYPTED_SRTCP"), zoom[1]}, []Suite{SuiteAESCM128HMACSHA180, SuiteAES256CMHMACSHA180}, 2, true},
		{"long lifetime kept", []Crypto{withLifetime(zoom[2], "2^31"), zoom[1]}, []Suite{SuiteAESCM128HMACSHA180, SuiteAES256CMHMACSHA180}, 3, true},
		{"short lifetime skipped", []Crypto{withLifetime(zoom[2], "2^20"), zoom[1]}, []Suite{SuiteAESCM128HMACSHA180, SuiteAES256CMHMACSHA180}, 2, true},
		{"window size hint kept", []Crypto{withParams(zoom[2], "WSH=128"), zoom[1]}, []Suite{SuiteAESCM128HMACSHA180, SuiteAES256CMHMACSHA180}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := SelectCrypto(tt.offered, tt.prefs)
			if ok != tt.wantOK || got.Tag != tt.wantTag {
				t.Fatalf("SelectCrypto = tag %d, %v; want tag %d, %v", got.Tag, ok, tt.wantTag, tt.wantOK)
			}
			if ok && !reflect.DeepEqual(got, tt.offered[indexOfTag(tt.offered, tt.wantTag)]) {
				t.Errorf("SelectCrypto returned %+v, not the offered line", got)
			}
			if !ok && !reflect.DeepEqual(got, Crypto{}) {
				t.Errorf("SelectCrypto returned %+v with ok=false", got)
			}
		})
	}
}

func indexOfTag(cs []Crypto, tag int) int {
	for i, c := range cs {
		if c.Tag == tag {
			return i
		}
	}
	return -1
}

func withMKI(c Crypto) Crypto                { c.Lifetime, c.MKI = "2^31", "1:4"; return c }
func withLifetime(c Crypto, l string) Crypto { c.Lifetime = l; return c }
func withParams(c Crypto, p string) Crypto   { c.SessionParams = p; return c }

func TestCryptoUsable(t *testing.T) {
	line := "3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128
	tests := []struct {
		name  string
		value string // after line
		want  error  // nil: usable
	}{
		{"plain", "", nil},
		{"lifetime 2^31", "|2^31", nil},
		{"lifetime 2147483648", "|2147483648", nil},
		{"lifetime 2^48", "|2^48", nil},
		{"lifetime 2^24, the minimum", "|2^24", nil},
		{"lifetime 16777216, the minimum", "|16777216", nil},
		{"lifetime beyond uint64", "|2^99", nil},
		{"decimal lifetime beyond uint64", "|" + strings.Repeat("9", 30), nil},
		{"lifetime 2^23", "|2^23", ErrUnsupportedCrypto},
		{"lifetime 16777215", "|16777215", ErrUnsupportedCrypto},
		{"lifetime 2^20 (RFC 4568 example)", "|2^20", ErrUnsupportedCrypto},
		{"lifetime 0", "|0", ErrUnsupportedCrypto},
		{"MKI", "|1:4", ErrUnsupportedCrypto},
		{"lifetime and MKI", "|2^31|1:4", ErrUnsupportedCrypto},
		{"one-byte MKI", "|2^31|0:1", ErrUnsupportedCrypto},
		{"KDR=0 (derive once, the default)", " KDR=0", nil},
		{"kdr=0 lower case", " kdr=0", nil},
		{"KDR=1", " KDR=1", ErrUnsupportedCrypto},
		{"KDR=24", " KDR=24", ErrUnsupportedCrypto},
		{"KDR without a rate", " KDR", ErrUnsupportedCrypto},
		{"KDR with three digits", " KDR=000", ErrUnsupportedCrypto},
		{"UNENCRYPTED_SRTP", " UNENCRYPTED_SRTP", ErrUnsupportedCrypto},
		{"UNENCRYPTED_SRTCP", " UNENCRYPTED_SRTCP", ErrUnsupportedCrypto},
		{"unencrypted_srtcp lower case", " unencrypted_srtcp", ErrUnsupportedCrypto},
		{"UNAUTHENTICATED_SRTP", " UNAUTHENTICATED_SRTP", ErrUnsupportedCrypto},
		{"FEC_ORDER=FEC_SRTP (the default)", " FEC_ORDER=FEC_SRTP", nil},
		{"FEC_ORDER=SRTP_FEC", " FEC_ORDER=SRTP_FEC", ErrUnsupportedCrypto},
		{"FEC_ORDER malformed", " FEC_ORDER=X", ErrUnsupportedCrypto},
		{"FEC_KEY", " FEC_KEY=inline:" + keyCM128b, ErrUnsupportedCrypto},
		{"WSH", " WSH=64", nil},
		{"wsh lower case, large", " wsh=1024", nil},
		{"WSH malformed", " WSH=big", ErrUnsupportedCrypto},
		{"optional extension", " -X-VENDOR=1", nil},
		{"unknown mandatory parameter", " X-VENDOR=1", ErrUnsupportedCrypto},
		{"usable parameters together", "|2^31 KDR=0 WSH=64 FEC_ORDER=FEC_SRTP -EXT", nil},
		{"one bad parameter among good ones", "|2^31 WSH=64 UNENCRYPTED_SRTCP -EXT", ErrUnsupportedCrypto},
		{"MKI with usable parameters", "|2^31|1:4 WSH=64", ErrUnsupportedCrypto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCrypto(line + tt.value)
			if err != nil {
				t.Fatalf("ParseCrypto must keep accepting %q: %v", tt.value, err)
			}
			got := c.Usable()
			if (got == nil) != (tt.want == nil) || (tt.want != nil && !errors.Is(got, tt.want)) {
				t.Fatalf("Usable() = %v, want %v", got, tt.want)
			}
			if got != nil && errors.Is(got, ErrBadCrypto) {
				t.Errorf("Usable() = %v: a parsed line is valid, so it must not match ErrBadCrypto", got)
			}
			_, ok := SelectCrypto([]Crypto{c}, nil)
			if ok != (tt.want == nil) {
				t.Errorf("SelectCrypto ok = %v, want %v", ok, tt.want == nil)
			}
		})
	}
}

func TestCryptoUsableNamesTheProblem(t *testing.T) {
	tests := []struct{ value, want string }{
		{"|2^31|1:4", "MKI 1:4"},
		{"|2^20", "lifetime of 1048576 packets"},
		{"|1000", "lifetime of 1000 packets"},
		{" KDR=3", "KDR=3"},
		{" UNENCRYPTED_SRTCP", "UNENCRYPTED_SRTCP"},
		{" X-VENDOR=1", "X-VENDOR"},
	}
	for _, tt := range tests {
		c, err := ParseCrypto("3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + tt.value)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Usable(); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "tag 3") {
			t.Errorf("%q: Usable() = %v, want it to name tag 3 and %q", tt.value, err, tt.want)
		}
	}
}

// Session parameters can carry keys (FEC_KEY) or be keys in the wrong place.
func TestCryptoUsableErrorsHideKeys(t *testing.T) {
	for _, params := range []string{
		"FEC_KEY=inline:" + keyCM128b,
		"inline:" + keyCM128b,
		strings.TrimRight(keyCM128b, "="),
		"fec_key=inline:" + keyCM128b + "|2^20|1:4",
	} {
		c := Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128), SessionParams: params}
		err := c.Usable()
		if !errors.Is(err, ErrUnsupportedCrypto) {
			t.Fatalf("%q: Usable() = %v, want ErrUnsupportedCrypto", params, err)
		}
		for _, k := range []string{keyCM128b[:16], keyCM128[:16]} {
			if strings.Contains(err.Error(), k) {
				t.Errorf("error leaks key material: %v", err)
			}
		}
	}
}

func TestCryptoUsableInvalid(t *testing.T) {
	key := mustKey(keyCM128)
	tests := []struct {
		name string
		c    Crypto
		want error
	}{
		{"unknown suite", Crypto{Tag: 1, Suite: "F8_128_HMAC_SHA1_80", KeySalt: key}, ErrUnknownSuite},
		{"key as suite", Crypto{Tag: 1, Suite: Suite(keyCM128b), KeySalt: key}, ErrUnknownSuite},
		{"short key", Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key[:16]}, ErrBadCrypto},
		{"negative tag", Crypto{Tag: -1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key}, ErrBadCrypto},
		{"tag too large", Crypto{Tag: 1000000000, Suite: SuiteAESCM128HMACSHA180, KeySalt: key}, ErrBadCrypto},
		{"bad lifetime", Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key, Lifetime: "2^x"}, ErrBadCrypto},
		{"bad MKI", Crypto{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: key, MKI: "1:0"}, ErrBadCrypto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Usable()
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrBadCrypto) || errors.Is(err, ErrUnsupportedCrypto) {
				t.Fatalf("Usable() = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), keyCM128b[:16]) {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

// Zoom's four-suite offer with lines the relay cannot honour: the golden
// outcome is the exact offered line answered, or none (488).
func TestSelectCryptoZoomOffer(t *testing.T) {
	const none = ""
	tests := []struct {
		name  string
		offer string
		want  string // the chosen line, none for no choice
	}{
		{"as offered: the preferred suite", zoomOffer, "3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128},
		{"preferred line has an MKI: next preferred suite", zoomOfferWith("|2^31|1:4", 3), "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
		{"preferred line has a bare MKI", zoomOfferWith("|1:4", 3), "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
		{"two preferred lines have MKIs", zoomOfferWith("|2^31|1:4", 3, 2), "1 AEAD_AES_256_GCM inline:" + keyGCM256},
		{"three lines have MKIs: the last suite", zoomOfferWith("|1:4", 3, 2, 1), "4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128b},
		{"every line has an MKI: none", zoomOfferWith("|2^31|1:4", 1, 2, 3, 4), none},
		{"preferred line with UNENCRYPTED_SRTCP", zoomOfferWith(" UNENCRYPTED_SRTCP", 3), "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
		{"preferred line with KDR=1", zoomOfferWith(" KDR=1", 3), "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
		{"preferred line with two keys", zoomOfferWith("|2^31|1:4;inline:"+keyCM128b+"|2^31|2:4", 3), "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
		{"preferred line with lifetime 2^31: kept", zoomOfferWith("|2^31", 3), "3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^31"},
		{"preferred line with WSH: kept", zoomOfferWith(" WSH=64", 3), "3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + " WSH=64"},
		{"preferred line with a short lifetime", zoomOfferWith("|2^16", 3), "2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.offer))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, ok := SelectCrypto(m.Crypto, zoomPrefs)
			if tt.want == none {
				if ok {
					t.Fatalf("SelectCrypto chose %q, want none (488)", got.String())
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("SelectCrypto = %q, %v; want %q", got.String(), ok, tt.want)
			}
		})
	}
}

// Parsing is unchanged: the lines the relay cannot use still parse and
// round-trip, only selection skips them.
func TestParseKeepsUnusableCrypto(t *testing.T) {
	m, err := Parse([]byte(zoomOfferWith("|2^31|1:4 KDR=1 UNENCRYPTED_SRTCP", 1, 2, 3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Crypto) != 4 {
		t.Fatalf("Parse kept %d crypto lines, want 4", len(m.Crypto))
	}
	for _, c := range m.Crypto {
		if c.MKI != "1:4" || c.Lifetime != "2^31" || c.SessionParams != "KDR=1 UNENCRYPTED_SRTCP" {
			t.Errorf("tag %d parsed as %+v", c.Tag, c)
		}
		if !strings.HasSuffix(c.String(), "|2^31|1:4 KDR=1 UNENCRYPTED_SRTCP") {
			t.Errorf("String() = %q", c.String())
		}
	}
}
