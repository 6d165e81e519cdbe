package trackedconn

import "golang.org/x/sys/unix"

// probeScratch is what a Linux probe works in: a borrowed TCP_INFO buffer
// and poll's argument.
type probeScratch struct {
	ti  *kernelTCPInfo
	pfd [1]unix.PollFd
}

// tcpInfoOffLinux: off Linux only; Linux reads TCP_INFO of TCP sockets
// (prober.tcp).
const tcpInfoOffLinux = false
