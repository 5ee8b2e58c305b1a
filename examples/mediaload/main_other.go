//go:build !linux || !(amd64 || arm64)

package main

import (
	"fmt"
	"os"
)

// mediaload drives raw Linux system calls (epoll, recvmmsg, sendmmsg) on
// 64-bit machines.
func main() {
	fmt.Fprintln(os.Stderr, "mediaload: needs Linux on amd64 or arm64")
	os.Exit(1)
}
