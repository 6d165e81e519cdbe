//go:build !linux

package trackedconn

// probeScratch is empty off Linux.
type probeScratch struct{}

type kernelTCPInfo struct{}

func (p *prober) getTCPBuf() {}
func (p *prober) putTCPBuf() {}
