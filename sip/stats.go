package sip

import "sync/atomic"

// EndpointStats counts what an Endpoint refused, dropped or survived. Every
// counter only grows; read them with Endpoint.Stats.
type EndpointStats struct {
	// Refused counts datagrams and connections from sources AcceptSource
	// refused. They cost no parsing and no per-source state.
	Refused uint64
	// Malformed counts requests answered 400 Bad Request and messages
	// dropped because they could not be parsed or lacked a header that a
	// response needs.
	Malformed uint64
	// Panics counts panics recovered while handling network input; the
	// endpoint kept serving after each.
	Panics uint64
	// ConnectionsRefused counts accepted TCP/TLS connections closed at once
	// because MaxConnections or MaxConnectionsPerSource was reached.
	ConnectionsRefused uint64
	// HandshakeFailures counts TLS handshakes that failed or did not finish
	// within HandshakeTimeout.
	HandshakeFailures uint64
	// IdleClosed counts accepted connections closed after IdleTimeout
	// without traffic while they carried no call.
	IdleClosed uint64
	// Connections is the number of accepted TCP/TLS connections open now.
	Connections uint64
}

// counters are an Endpoint's live EndpointStats.
type counters struct {
	refused, malformed, panics           atomic.Uint64
	connsRefused, handshakeFail, idleEnd atomic.Uint64
	conns                                atomic.Int64
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() EndpointStats {
	return EndpointStats{
		Refused:            e.stats.refused.Load(),
		Malformed:          e.stats.malformed.Load(),
		Panics:             e.stats.panics.Load(),
		ConnectionsRefused: e.stats.connsRefused.Load(),
		HandshakeFailures:  e.stats.handshakeFail.Load(),
		IdleClosed:         e.stats.idleEnd.Load(),
		Connections:        uint64(max(e.stats.conns.Load(), 0)),
	}
}
