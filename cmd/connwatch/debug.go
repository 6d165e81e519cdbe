package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/connwatch/connwatch/connz"
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

// pairSource is the proxy's live conns for connz, accepted and dialed, each
// with the pair it belongs to: "pair" (the pair's id, when the conn is in a
// pair yet) and "closed_first" (who ended the pair first, once someone did).
type pairSource struct {
	p     *proxy
	pairs map[uint64]*pair // by conn id, taken before the probes
}

// source snapshots p's pairs for one request.
func (p *proxy) source() pairSource {
	byID := map[uint64]*pair{}
	p.mu.Lock()
	for _, pr := range p.pairs {
		byID[pr.client.ID()] = pr
		if up := pr.upstreamConn(); up != nil {
			byID[up.ID()] = pr
		}
	}
	p.mu.Unlock()
	return pairSource{p, byID}
}

func (s pairSource) Probe() []trackedconn.Probed {
	return append(s.p.ln.Probe(), s.p.dialer.Probe()...)
}

func (s pairSource) Stats() trackedconn.Stats {
	a, b := s.p.ln.Stats(), s.p.dialer.Stats()
	return trackedconn.Stats{
		Opened: a.Opened + b.Opened, Active: a.Active + b.Active, Closed: a.Closed + b.Closed,
		BytesRead: a.BytesRead + b.BytesRead, BytesWritten: a.BytesWritten + b.BytesWritten,
	}
}

func (s pairSource) Annotate(p trackedconn.Probed) []connz.Field {
	pr, ok := s.pairs[p.State.ID]
	if !ok {
		return nil
	}
	fields := []connz.Field{{Key: "pair", Value: pr.id}}
	if who := pr.first.Load(); who != whoNone {
		fields = append(fields, connz.Field{Key: "closed_first", Value: whoNames[who]})
	}
	return fields
}

// serveConns serves the live conns with connz: a page for browsers, a
// table with ?format=text. For curl (no ?format= and no text/html in
// Accept) and with ?format=json it serves the list of conns as before: a
// JSON array, each conn with connz's keys and the pair's.
func (p *proxy) serveConns(w http.ResponseWriter, r *http.Request) {
	h := connz.Handler(connz.Named("proxy", p.source()))
	q := r.URL.Query()
	if !q.Has("format") && !strings.Contains(r.Header.Get("Accept"), "text/html") || q.Get("format") == "json" {
		q.Set("format", "json")
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r2)
		var out struct{ Conns json.RawMessage }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			code := rec.Code
			if code == http.StatusOK {
				code = http.StatusInternalServerError // not the JSON expected
			}
			http.Error(w, strings.TrimSpace(rec.Body.String()), code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		var indented bytes.Buffer
		json.Indent(&indented, out.Conns, "", "  ")
		indented.WriteByte('\n')
		w.Write(indented.Bytes())
		return
	}
	h.ServeHTTP(w, r)
}
