//go:build !linux

package trackedconn

import "net"

// probeScratch is the byte a peek receives into, off Linux.
type probeScratch struct {
	buf [1]byte
}

func (p *prober) getTCPBuf() {}
func (p *prober) putTCPBuf() {}

// lookTCP finds nothing: off Linux the first Close probes as Probe does.
func lookTCP(c net.Conn, f uint32) (probeResult, bool) { return probeResult{}, false }
