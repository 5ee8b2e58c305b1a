//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// floodConfig configures the flood process, one JSON line on stdin.
type floodConfig struct {
	From   string // source IPv4 address, in 127.0.0.0/8
	Target int    // relay port on 127.0.0.1
	Rate   int    // datagrams per second
}

// runFlood sends RTP-shaped datagrams with random SSRCs from cfg.From to
// the target at cfg.Rate, in batches of sendmmsg every millisecond, until
// "stop" (or the end of stdin); then it reports how many it sent. The
// rate is a ceiling: after a stall it does not catch up by more than
// 100 ms worth of datagrams.
func runFlood() error {
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	var cfg floodConfig
	if err := json.Unmarshal([]byte(line), &cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	from, err := netip.ParseAddr(cfg.From)
	if err != nil || !from.Is4() || !isLoopback(from.As4()) {
		return fmt.Errorf("flood source %q is not an IPv4 loopback address", cfg.From)
	}
	if cfg.Rate < 1 || cfg.Target < 1 || cfg.Target > 65535 {
		return fmt.Errorf("bad flood rate %d or target port %d", cfg.Rate, cfg.Target)
	}
	fd, _, err := udpSocket(from.As4(), 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: cfg.Target, Addr: loopback}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}

	const batch = 64
	msgs := make([]mmsghdr, batch)
	iovs := make([]syscall.Iovec, batch)
	pkts := make([][]byte, batch)
	for i := range msgs {
		p := make([]byte, rtpLen)
		for j := range p {
			p[j] = byte(rand.Uint32())
		}
		p[0], p[1] = 0x80, 0 // RTP v2, PCMU: shaped like media, from the wrong place
		pkts[i] = p
		iovs[i].Base = &p[0]
		iovs[i].SetLen(len(p))
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.Iovlen = 1
	}

	var stop atomic.Bool
	done := make(chan struct{})
	var sent, failed uint64
	start := time.Now()
	go func() {
		defer close(done)
		var quota uint64 // datagrams the schedule has allowed so far
		for !stop.Load() {
			want := uint64(time.Since(start).Seconds() * float64(cfg.Rate))
			if lag := uint64(cfg.Rate / 10); want > quota+lag {
				quota = want - lag // a ceiling, not a debt
			}
			for quota < want {
				n, err := sendmmsg(fd, msgs[:min(want-quota, batch)])
				if err != nil {
					failed++
					break
				}
				quota += uint64(n)
				sent += uint64(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	fmt.Println("flooding")
	for {
		line, err := in.ReadString('\n')
		if err != nil || strings.TrimSpace(line) == "stop" {
			stop.Store(true)
			<-done
			secs := time.Since(start).Seconds()
			fmt.Printf("flooded sent=%d seconds=%.3f failed=%d\n", sent, secs, failed)
			return nil
		}
	}
}
