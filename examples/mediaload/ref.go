//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// refRelayC is the reference relay in C: one thread, epoll, recvfrom and
// sendto; with -DWITH_SRTP, also side B's SRTP with libsrtp2. mediaload
// compiles it with gcc -O2 at run time.
//
//go:embed csrc/refrelay.c
var refRelayC []byte

// refSRTPSuites are the SDES suites the C reference relay with libsrtp2
// knows (csrc/refrelay.c, session).
var refSRTPSuites = map[string]bool{"AES_CM_128_HMAC_SHA1_80": true, "AES_CM_128_HMAC_SHA1_32": true}

// libsrtp2Flags returns the compiler flags and the libraries that build
// with libsrtp2: $LIBSRTP2_CFLAGS and $LIBSRTP2_LIBS (split at spaces),
// as autoconf's pkg-config checks take them, or else the system's
// libsrtp2 (-lsrtp2). They pick another libsrtp2 build, for instance one
// with another crypto library:
//
//	LIBSRTP2_CFLAGS=-I/opt/srtp/include LIBSRTP2_LIBS="/opt/srtp/lib/libsrtp2.a -lcrypto"
func libsrtp2Flags() (cflags, libs []string) {
	cflags, libs = strings.Fields(os.Getenv("LIBSRTP2_CFLAGS")), strings.Fields(os.Getenv("LIBSRTP2_LIBS"))
	if len(libs) == 0 {
		libs = []string{"-lsrtp2"}
	}
	return cflags, libs
}

// buildRefC compiles the C reference relay into dir with the C compiler
// named by $CC or gcc, and returns the binary's path and the compiler's
// version line. With srtp it builds the variant with libsrtp2 (see
// libsrtp2Flags), and fails if libsrtp2's headers or library are missing.
func buildRefC(dir string, srtp bool) (bin, version string, err error) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if cc, err = exec.LookPath(cc); err != nil {
		return "", "", err
	}
	src := filepath.Join(dir, "refrelay.c")
	if err := os.WriteFile(src, refRelayC, 0o600); err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "refrelay")
	flags, libs := []string{"-O2"}, []string(nil)
	if srtp {
		bin = filepath.Join(dir, "refrelay-srtp")
		cflags, srtpLibs := libsrtp2Flags()
		flags, libs = slices.Concat([]string{"-O2", "-DWITH_SRTP"}, cflags), srtpLibs
	}
	if out, err := exec.Command(cc, slices.Concat(flags, []string{"-o", bin, src}, libs)...).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("%s %s: %w: %s", cc, strings.Join(slices.Concat(flags, libs), " "), err, out)
	}
	out, _ := exec.Command(cc, "--version").Output()
	version, _, _ = strings.Cut(string(out), "\n")
	return bin, strings.TrimSpace(version), nil
}

// runRefGo is the reference relay when there is no C compiler: the C
// relay's loop in Go on raw system calls, on one locked OS thread. Same
// control protocol as csrc/refrelay.c.
func runRefGo() error {
	runtime.LockOSThread()
	raiseNoFile()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	line, err := in.ReadString('\n')
	if err != nil {
		return err
	}
	n, lo, hi, err := parseCalls(strings.Fields(line))
	if err != nil {
		return err
	}
	fds := make([]int, 2*n)
	var ports strings.Builder
	ports.WriteString("ports")
	next := lo + lo%2
	for i := range fds {
		fds[i] = -1
		for ; next+1 <= hi && fds[i] < 0; next += 2 {
			if fd, _, err := udpSocket(loopback, next); err == nil {
				fds[i] = fd
				fmt.Fprintf(&ports, " %d", next)
			}
		}
		if fds[i] < 0 {
			return fmt.Errorf("no free port left in %d-%d", lo, hi)
		}
	}
	fmt.Println(ports.String())

	line, err = in.ReadString('\n')
	if err != nil {
		return err
	}
	f := strings.Fields(line)
	if len(f) != 1+len(fds) || f[0] != "remotes" {
		return fmt.Errorf("want: remotes and %d ports", len(fds))
	}
	peers := make([]syscall.RawSockaddrInet4, len(fds))
	for i := range peers {
		p, err := strconv.Atoi(f[1+i])
		if err != nil {
			return err
		}
		peers[i] = sockaddr4(loopback, p) // loopback only
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	const ctrl = -1
	for i, fd := range fds {
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}); err != nil {
			return err
		}
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, 0, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: ctrl}); err != nil {
		return err
	}
	fmt.Println("ready")

	start := time.Now()
	var received, forwarded, sendFailed uint64
	buf := make([]byte, 2048)
	var cmd []byte
	cbuf := make([]byte, 64)
	evs := make([]syscall.EpollEvent, 256)
	for {
		k, err := epollWait(ep, evs, -1)
		if err != nil {
			return err
		}
		for _, ev := range evs[:k] {
			i := int(ev.Fd)
			if i == ctrl {
				r, err := syscall.Read(0, cbuf)
				if r <= 0 || err != nil {
					return nil
				}
				for _, c := range cbuf[:r] {
					if c != '\n' {
						cmd = append(cmd, c)
						continue
					}
					switch string(cmd) {
					case "mark":
						cpu := selfCPU()
						fmt.Printf("mark %d %d %d received=%d forwarded=%d sendFailed=%d preempted=%d\n", time.Since(start).Nanoseconds(),
							cpu.User.Microseconds(), cpu.Sys.Microseconds(), received, forwarded, sendFailed, cpu.Preempted)
					case "stop":
						fmt.Println("bye")
						return nil
					}
					cmd = cmd[:0]
				}
				continue
			}
			n, err := recvfrom(fds[i], buf)
			if err != nil || n == 0 {
				continue
			}
			received++
			if sendto(fds[i^1], buf[:n], &peers[i^1]) == nil {
				forwarded++
			} else {
				sendFailed++
			}
		}
	}
}
