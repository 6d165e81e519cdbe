package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// debugListenAddr returns the address the debug server binds for -debug
// addr. A host-less ":PORT" binds 127.0.0.1:PORT, so the list of conns is
// not exposed by accident; to expose it, name the host (0.0.0.0:PORT).
func debugListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("address %s: invalid port %q", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// debugServer serves the proxy's live conns over HTTP.
type debugServer struct {
	srv    *http.Server
	ln     net.Listener
	served chan struct{}
}

// startDebug serves p's debug endpoints on addr.
func startDebug(addr string, p *proxy) (*debugServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/conns", p.serveConns)
	mux.HandleFunc("GET /debug/counters", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, p.counters.String())
	})
	d := &debugServer{
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		ln:     ln,
		served: make(chan struct{}),
	}
	go d.serve()
	return d, nil
}

func (d *debugServer) serve() {
	defer close(d.served)
	_ = d.srv.Serve(d.ln) // http.ErrServerClosed after close
}

func (d *debugServer) addr() string { return d.ln.Addr().String() }

// close stops the server, giving requests in flight a second.
func (d *debugServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if d.srv.Shutdown(ctx) != nil {
		d.srv.Close()
	}
	<-d.served
}

// debugConn is one live conn in /debug/conns.
type debugConn struct {
	Pair         uint64    `json:"pair,omitempty"` // 0 if the conn is not in a pair yet
	ID           uint64    `json:"id"`
	Side         string    `json:"side"` // "server": accepted from a client; "client": dialed upstream
	Name         string    `json:"name"` // "client" or "upstream": which party it faces
	Local        string    `json:"local"`
	Remote       string    `json:"remote"`
	OpenedAt     time.Time `json:"opened_at"`
	AgeSeconds   float64   `json:"age_seconds"`
	IdleSeconds  float64   `json:"idle_seconds"`  // since the last byte moved either way
	BytesRead    int64     `json:"bytes_read"`    // a spliced copy adds its bytes every 4 MiB and when it returns
	BytesWritten int64     `json:"bytes_written"` // idem
	Flags        []string  `json:"flags"`
	Liveness     string    `json:"liveness"` // Probe's answer; "unknown" if not in a pair yet
}

// liveConns lists the live conns of both sides, accepted then dialed, each
// oldest first, with Probe's answer.
func (p *proxy) liveConns() []debugConn {
	type member struct {
		pair uint64
		conn *trackedconn.Conn
	}
	byID := map[uint64]member{}
	p.mu.Lock()
	for _, pr := range p.pairs {
		byID[pr.client.ID()] = member{pr.id, pr.client}
		if pr.upstream != nil {
			byID[pr.upstream.ID()] = member{pr.id, pr.upstream}
		}
	}
	p.mu.Unlock()

	now := time.Now()
	conns := []debugConn{}
	for _, s := range append(p.ln.Conns(), p.dialer.Conns()...) {
		dc := debugConn{
			ID:           s.ID,
			Side:         s.Side.String(),
			Name:         s.Name,
			Local:        addrString(s.LocalAddr),
			Remote:       addrString(s.RemoteAddr),
			OpenedAt:     s.OpenedAt,
			AgeSeconds:   s.Age().Seconds(),
			IdleSeconds:  now.Sub(s.LastActive()).Seconds(),
			BytesRead:    s.BytesRead,
			BytesWritten: s.BytesWritten,
			Flags:        stateFlags(s),
			Liveness:     trackedconn.LivenessUnknown.String(),
		}
		if m, ok := byID[s.ID]; ok {
			dc.Pair = m.pair
			dc.Liveness = m.conn.Probe().String()
		}
		conns = append(conns, dc)
	}
	return conns
}

// serveConns serves the live conns as JSON, or as a table with
// ?format=text.
func (p *proxy) serveConns(w http.ResponseWriter, r *http.Request) {
	conns := p.liveConns()
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(conns)
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PAIR\tID\tSIDE\tNAME\tLOCAL\tREMOTE\tAGE\tIDLE\tREAD\tWRITTEN\tFLAGS\tLIVENESS")
		for _, c := range conns {
			flags := strings.Join(c.Flags, ",")
			if flags == "" {
				flags = "-"
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%v\t%v\t%d\t%d\t%s\t%s\n",
				c.Pair, c.ID, c.Side, c.Name, c.Local, c.Remote,
				seconds(c.AgeSeconds), seconds(c.IdleSeconds), c.BytesRead, c.BytesWritten, flags, c.Liveness)
		}
		tw.Flush()
	default:
		http.Error(w, fmt.Sprintf("unknown format %q: want json or text", format), http.StatusBadRequest)
	}
}

// seconds rounds s seconds to a readable duration.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
