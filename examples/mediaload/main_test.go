//go:build linux && (amd64 || arm64)

package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play every part of a run: the
// orchestrator re-executes os.Executable(), which is this binary here.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// TestRun runs the tool end to end with tiny numbers, the reference
// relay (C when a compiler is present), byocp and byocp under a flood,
// and checks that the report parses and that nothing was lost. It makes
// no timing assertions.
func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	args := []string{"-calls", "4", "-duration", "500ms", "-warmup", "200ms", "-drain", "1s", "-flood", "-flood-rate", "2000"}
	if err := run(args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Logf("\n%s", report)

	blocks := strings.Split(report, "\n== ")
	found := map[string]string{}
	for _, b := range blocks[1:] {
		label, _, _ := strings.Cut(b, ":")
		found[label] = b
	}
	for _, label := range []string{"reference", "byocp", "byocp + flood"} {
		b, ok := found[label]
		if !ok {
			t.Fatalf("no %q block in the report", label)
		}
		lost, sent := intPair(t, b, `(?m)^\s+loss\s+(\d+) of (\d+) sent`)
		if sent == 0 || lost != 0 {
			t.Errorf("%s: lost %d of %d, want 0 of more than 0", label, lost, sent)
		}
		if cpu := float(t, b, `(?m)^\s+relay CPU\s+([0-9.]+) us/packet`); cpu <= 0 {
			t.Errorf("%s: relay CPU %v us/packet", label, cpu)
		}
		if !regexp.MustCompile(`(?m)^\s+latency\s+p50 \d`).MatchString(b) {
			t.Errorf("%s: no latency figures", label)
		}
	}
	b := found["byocp"]
	if !regexp.MustCompile(`(?m)^\s+media\.Stats .*dropped: none$`).MatchString(b) {
		t.Errorf("byocp: media.Stats line missing or with drops")
	}
	if kib := float(t, b, `(?m)^\s+memory per call\s+([0-9.]+) KiB`); kib <= 0 {
		t.Errorf("byocp: memory per call %v KiB", kib)
	}
	f := found["byocp + flood"]
	if n := float(t, f, `dropped ([0-9]+) as WrongSource`); n <= 0 {
		t.Errorf("byocp + flood: the relay dropped %v flood datagrams as WrongSource, want some", n)
	}
	if lost, sent := intPair(t, f, `(?m)^\s+other calls\s+loss (\d+) of (\d+)`); sent == 0 || lost != 0 {
		t.Errorf("byocp + flood: other calls lost %d of %d", lost, sent)
	}
	if r := float(t, report, `byocp / reference: [0-9.]+ / [0-9.]+ us = ([0-9.]+)x`); r <= 0 {
		t.Errorf("ratio %v", r)
	}
}

// TestGoReference runs the Go raw-syscall reference relay, the fallback
// when there is no C compiler, on its own.
func TestGoReference(t *testing.T) {
	t.Parallel()
	o := &options{calls: 2, duration: 300 * time.Millisecond, warmup: 100 * time.Millisecond, drain: 700 * time.Millisecond,
		ptime: 20 * time.Millisecond, tick: 100 * time.Microsecond, suite: "none", ref: "go",
		portMin: 20000, portMax: 29999, workers: 1, sockets: 1, rounds: 1}
	res, err := runOne(o, runSpec{label: "reference", kind: kindRefGo})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := all(res)
	if s.Sent == 0 || s.Received != s.Sent {
		t.Errorf("received %d of %d", s.Received, s.Sent)
	}
	if res.forwarded() == 0 {
		t.Error("the relay forwarded nothing in the window")
	}
}

func intPair(t *testing.T, s, re string) (a, b int) {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", re, s)
	}
	a, _ = strconv.Atoi(m[1])
	b, _ = strconv.Atoi(m[2])
	return a, b
}

func float(t *testing.T, s, re string) float64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", re, s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
