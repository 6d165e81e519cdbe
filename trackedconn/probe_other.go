//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris)

package trackedconn

// sockKindOf reports that nothing can be peeked at here. Windows has no
// MSG_DONTWAIT, and the runtime drives its sockets with overlapped I/O, so
// a one-byte peek could block or race with a pending Read; other systems
// (aix, plan9, js, wasip1) lack the flags too.
func sockKindOf(fd uintptr) sockKind { return sockUnknown }

// peek is never called: no prober is built here.
func (p *prober) peek(fd uintptr) {}
