package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo as `go run ./examples/demo` does and checks its report.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Call 1: carrier -> Zoom", "Call 2: Zoom -> carrier", "SRTP AES_CM_128_HMAC_SHA1_80", "hung up by carrier", "hung up by zoom"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
