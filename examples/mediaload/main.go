//go:build linux && (amd64 || arm64)

// Command mediaload measures byocp's media relay under load, next to a
// minimal reference relay under the identical load, and prints the
// relay's CPU time per relayed packet, loss, latency and memory per call.
//
//	go run ./examples/mediaload                       # 200 calls, 10 s window
//	go run ./examples/mediaload -calls 1000 -duration 20s -flood
//
// # Method
//
// mediaload is one binary that re-executes itself (os.Executable, with
// MEDIALOAD_ROLE set) so that every part of a run is a process of its
// own and the relay's CPU time is the relay's alone:
//
//   - the relay under test: byocp's media package through its public API,
//     as the Bridge uses it. Per call, two Ports from a media.PortPool on
//     127.0.0.1 and a media.Relay: side A the carrier (plain RTP,
//     RestrictSources), side B Zoom (SRTP with SDES keys that mediaload
//     draws and hands to both the relay and the generator over the
//     control channel; -suite none for plain RTP).
//   - the reference relay: the floor any relay can reach on this kernel.
//     A C program (csrc/refrelay.c, embedded, compiled with gcc -O2 at
//     run time) with one thread, one epoll set over all sockets, and per
//     datagram one recvfrom and one sendto, unchanged, from the paired
//     socket to its peer. It does no SRTP and no checks. Without a C
//     compiler, the same loop in Go on raw system calls and one locked
//     thread (-ref go forces it); the output says which.
//   - the reference relay with libsrtp2 ("reference + libsrtp2"): the
//     same C program built with -DWITH_SRTP, which also does the SRTP
//     work byocp does on side B, with libsrtp2 as C media engines use it:
//     per call an outbound srtp_t with side B's local key that
//     srtp_protects what side A sends, and an inbound one with its remote
//     key that srtp_unprotects what side B sends (replay window 64, as
//     byocp's; what fails is dropped and counted). It is built only where
//     libsrtp2 is installed (Debian: libsrtp2-dev), or where
//     LIBSRTP2_CFLAGS and LIBSRTP2_LIBS name another build of it; else
//     the output says it was skipped. The output names libsrtp's version
//     and crypto library, which decides much of its cost.
//   - the load generator: for every call a carrier endpoint that sends
//     PCMU RTP (160-byte payload) to side A and a Zoom endpoint that sends
//     SRTP (pion/srtp) to side B, one packet per 20 ms each way, the
//     streams staggered evenly over the first 20 ms. Each endpoint
//     receives the other's stream through the relay, decrypts it where
//     needed, and counts it by the counter in its payload. Latency is the
//     kernel's arrival time stamp on the receiving socket (SO_TIMESTAMPNS)
//     minus the send time the sender wrote into the payload, both
//     CLOCK_REALTIME on the same machine, so the generator's own delay in
//     reading is left out. The generator is a few threads, each owning a
//     few sockets shared by its endpoints (-gen-sockets 0 gives each
//     endpoint its own): on a timer it sends what is due with sendmmsg and
//     reads what has arrived with recvmmsg, on raw system calls, and
//     allocates nothing per packet. Arrivals do not wake it, so a relay's
//     send costs what a send to another machine would, without waking a
//     thread here. It reports its own CPU time and how late it sent, so
//     that it can be seen not to be the bottleneck. For the floor, both
//     endpoints send plain RTP; for the reference with libsrtp2, the
//     Zoom endpoint sends and expects SRTP exactly as for byocp.
//   - with -flood, a flood sender: during an extra byocp run, datagrams
//     shaped like RTP from a wrong source (127.0.0.2) at a bounded rate to
//     call 0's side A port.
//
// Each run sets up the calls, warms up (-warmup), then measures for
// -duration: the relay reports its CPU time (getrusage) and its counters
// at both ends of the window, so set-up is excluded, and the generator
// counts only the packets it sent inside the window, waiting -drain for
// the last of them. Relay CPU per packet is the relay's CPU time in the
// window divided by the packets it forwarded in it. Datagrams the kernel
// dropped at full socket buffers are read from /proc/net/udp, to tell
// where loss happened; the load average and the relay's involuntary
// context switches tell how contended the CPUs were. The reference, the
// reference with libsrtp2 and byocp run one after the other under the
// same calls, rate and duration (-rounds repeats them); byocp's ratio to
// the floor is the figure to compare, because the machine may be running
// other work, and its ratio to the reference with libsrtp2 tells how much
// of the gap is SRTP. For byocp, memory per
// established call is the growth of the Go heap (HeapInuse) and goroutine
// stacks (StackInuse), each read after a GC, from after the PortPool is
// made to the end of the warm-up, divided by the calls.
//
// Reading the results: CPU per packet falls as the load rises, because a
// relay that wakes up finds more packets waiting, so compare relays only
// at the same load. Once the machine is saturated (the generator reports
// late sends, or the relay loses packets) the figures describe the
// overload, not the relay: the single-threaded reference then gets a
// smaller share of the CPUs than byocp's threads, so loss and latency are
// no longer comparable.
//
// Only 127.0.0.0/8 is ever sent to. Every process stops by itself: at the
// end of its stdin, when the orchestrator dies (SIGKILL on parent death),
// and at a deadline. -cpuprofile writes a CPU profile of the byocp relay
// process over the window, -memprofile a heap profile of its established
// calls (go tool pprof FILE).
package main

import (
	"fmt"
	"os"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mediaload:", err)
		os.Exit(1)
	}
}
