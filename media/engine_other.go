//go:build !linux

package media

import "net/netip"

// engine is Linux only: elsewhere NewPortPoolEngine makes a pool without
// one, whose relays run one goroutine per direction.
type engine struct{}

func newEngine(Engine) *engine { return nil }

func (*engine) listen(string, netip.AddrPort) (udpConn, error) { panic("media: no engine") }
