//go:build linux

package main

// System call numbers the syscall package does not name on linux/arm64.
const (
	sysSendmmsg    = 269
	sysEpollPwait2 = 441
)
