//go:build !linux && !darwin

package trackedconn

// tcpInfoOffLinux: no TCP view here.
const tcpInfoOffLinux = false

// tcpInfoOf reads nothing: this platform has no TCP view connwatch reads.
func (p *prober) tcpInfoOf(fd uintptr) {}
