//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// roleEnv selects what a re-executed mediaload (or its test binary) is:
// "relay" (byocp's media package), "ref" (the Go raw-syscall reference
// relay), "gen" (the load generator) or "flood". Unset: the orchestrator.
const roleEnv = "MEDIALOAD_ROLE"

// deadlineEnv is a child's lifetime in seconds; it exits after that
// whatever happens to its parent.
const deadlineEnv = "MEDIALOAD_DEADLINE"

// runRole runs this process as a child of the orchestrator and returns
// its exit code.
func runRole(role string) int {
	if s, err := strconv.Atoi(os.Getenv(deadlineEnv)); err == nil && s > 0 {
		time.AfterFunc(time.Duration(s)*time.Second, func() {
			fmt.Fprintf(os.Stderr, "mediaload %s: deadline of %ds reached, exiting\n", role, s)
			os.Exit(3)
		})
	}
	var err error
	switch role {
	case "relay":
		err = runRelay()
	case "ref":
		err = runRefGo()
	case "gen":
		err = runGenerator()
	case "flood":
		err = runFlood()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mediaload %s: %v\n", role, err)
		return 1
	}
	return 0
}

// child is a process of a run, driven by lines on its stdin and stdout.
type child struct {
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  bool
}

// startChild starts path with env added to ours. It dies with the
// orchestrator (SIGKILL on parent death), at the end of its stdin, and
// after its deadline.
func startChild(name, path string, env ...string) (*child, error) {
	cmd := exec.Command(path)
	// A race-enabled build (go test -race) sleeps a second at exit by
	// default; the children of a run have nothing to wait for.
	race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append(os.Environ(), "GORACE="+race), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c, nil
}

func (c *child) send(line string) error {
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}

// expect waits for the next line, which must start with word, and
// returns its fields.
func (c *child) expect(word string, timeout time.Duration) ([]string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l, ok := <-c.lines:
		if !ok {
			return nil, fmt.Errorf("%s exited before %q", c.name, word)
		}
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != word {
			return nil, fmt.Errorf("%s: want %q, got %.200q", c.name, word, l)
		}
		return f, nil
	case <-t.C:
		return nil, fmt.Errorf("%s: no %q within %v", c.name, word, timeout)
	}
}

// expectJSON waits for the next line and decodes it into v.
func (c *child) expectJSON(v any, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l, ok := <-c.lines:
		if !ok {
			return fmt.Errorf("%s exited", c.name)
		}
		if err := json.Unmarshal([]byte(l), v); err != nil {
			return fmt.Errorf("%s: %w: %.200q", c.name, err, l)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: no answer within %v", c.name, timeout)
	}
}

// wait closes stdin and waits for the child to exit, killing it after
// timeout. It reports a non-zero exit.
func (c *child) wait(timeout time.Duration) error {
	if c.done {
		return nil
	}
	c.done = true
	_ = c.in.Close()
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		return nil
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not exit within %v; killed", c.name, timeout)
	}
}

// kill ends a child that is still running (after an error).
func (c *child) kill() {
	if c.done {
		return
	}
	c.done = true
	_ = c.in.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// kv parses the k=v fields of a child's line into numbers.
func kv(fields []string) map[string]float64 {
	m := make(map[string]float64)
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				m[k] = x
			}
		}
	}
	return m
}

// mark is a relay's reading at one end of the measurement window.
type mark struct {
	at       time.Duration // the relay's monotonic clock
	cpu      cpuTime
	counters map[string]float64
}

func parseMark(f []string) (mark, error) {
	if len(f) < 4 {
		return mark{}, errors.New("short mark line")
	}
	var v [3]int64
	for i := range v {
		x, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return mark{}, fmt.Errorf("mark: %w", err)
		}
		v[i] = x
	}
	return mark{
		at:       time.Duration(v[0]),
		cpu:      cpuTime{User: time.Duration(v[1]) * time.Microsecond, Sys: time.Duration(v[2]) * time.Microsecond},
		counters: kv(f[4:]),
	}, nil
}

// procCPU returns a process's user+system time from /proc/<pid>/stat
// (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// udpDrops returns the datagrams the kernel dropped (a full receive
// buffer) at the IPv4 UDP sockets bound to 127.0.0.1 on the given ports,
// from /proc/net/udp: the sum, and whether it could be read.
func udpDrops(ports map[int]bool) (uint64, bool) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, false
	}
	var sum uint64
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 13 {
			continue
		}
		addr, port, ok := strings.Cut(f[1], ":")
		if !ok || addr != "0100007F" {
			continue
		}
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil || !ports[int(p)] {
			continue
		}
		d, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
		sum += d
	}
	return sum, true
}
