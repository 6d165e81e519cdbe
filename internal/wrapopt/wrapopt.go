// Package wrapopt carries the trackedconn options that only connwatch's own
// packages give.
package wrapopt

// AfterClose returns a trackedconn.Option that calls f for each conn once
// its EventClose hooks have all returned, wherever EventClose fires. f runs
// without a State snapshot, and no other event reaches it: it is how a
// listener counts its finished conns without being a hook that every
// event of every conn calls. trackedconn's init sets it. (The option is
// returned as any: trackedconn imports this package, so its Option cannot
// be named here.)
var AfterClose func(f func()) any

// PlainTCP returns a trackedconn.Option saying that the TCP conns src hands
// out are never MPTCP, or nil when that is not known: src is a
// *net.TCPListener whose own socket is plain TCP, or a *net.Dialer that does
// not use MPTCP. It spares those conns the second system call that the look
// at a first Close makes on a TCP conn which may be MPTCP, whose TCP_INFO
// describes one subflow and misses the peer's close. For a listener it makes
// two system calls (SO_TYPE, SO_PROTOCOL). trackedconn's init sets it.
var PlainTCP func(src any) any
