//go:build !linux

package trackedconn

import "syscall"

// probeScratch is the byte a peek receives into, off Linux.
type probeScratch struct {
	buf [1]byte
}

func (p *prober) getTCPBuf() {}
func (p *prober) putTCPBuf() {}

// lookTCP finds nothing: off Linux the first Close probes as Probe does.
func lookTCP(rc syscall.RawConn, f uint32, mayMPTCP bool) (probeResult, bool) {
	return probeResult{}, false
}
