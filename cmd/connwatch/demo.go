package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Demo timing. Every blocking step of a scenario is bounded by ioTimeout.
const (
	ioTimeout     = 5 * time.Second
	readTimeout   = 50 * time.Millisecond // the timeout scenario's read deadline
	leakWait      = 5 * time.Second       // how long to collect garbage for the leak
	probeWait     = 2 * time.Second       // how long to wait for Probe to change its answer
	closeHookWait = 2 * time.Second       // how long to wait for an EventClose from another goroutine
)

// scenario is one way for a conn to end, played by a tracked client and a
// tracked server.
type scenario struct {
	Name  string `json:"name"`
	About string `json:"about"`
	run   func(d *demo) (client, server uint64, err error)
}

var scenarios = []scenario{
	{"local-close", "the client writes and closes; the server closes without reading further (its Close finds the FIN)", (*demo).localClose},
	{"peer-close", "the client writes and closes; the server reads to EOF, then closes", (*demo).peerClose},
	{"half-close", "the client writes and shuts its write side; the server reads to EOF, answers and shuts its own; both close", (*demo).halfClose},
	{"reset", "the server closes with SO_LINGER 0 (RST); the client's read fails", (*demo).reset},
	{"timeout", "the client's read hits its deadline and the client closes", (*demo).timeout},
	{"leak", "the client drops its conn without Close; leak detection reclaims it at a GC", (*demo).leak},
	{"probe", "the client probes: fresh, after the server wrote, after the server closed, after its own close", (*demo).probe},
	{"probe-reset", "the client probes after the server's RST", (*demo).probeReset},
}

// demoRow is one conn of one scenario, as the table and the JSON show it.
type demoRow struct {
	Scenario     string   `json:"scenario"`
	ID           uint64   `json:"id"`
	Side         string   `json:"side"`
	ClosedFirst  string   `json:"closed_first"` // "client" or "server": the side that ended its sending first
	Cause        string   `json:"cause"`
	Flags        []string `json:"flags"`
	BytesRead    int64    `json:"bytes_read"`
	BytesWritten int64    `json:"bytes_written"`
	AgeMS        float64  `json:"age_ms"`
}

// probeStep is one answer of Probe in the probe scenarios.
type probeStep struct {
	Scenario string `json:"scenario"`
	Step     string `json:"step"`
	Liveness string `json:"liveness"`
}

// leakReport tells where the leaked conn was opened.
type leakReport struct {
	ID     uint64 `json:"id"`
	Origin string `json:"origin"` // the first frame outside connwatch's packages
	GCs    int    `json:"gcs"`    // garbage collections run until the leak hook fired
}

// groupStats are the Stats of the demo's listener or of one of its dialers.
type groupStats struct {
	Group        string `json:"group"`
	Opened       uint64 `json:"opened"`
	Active       uint64 `json:"active"`
	Closed       uint64 `json:"closed"`
	BytesRead    uint64 `json:"bytes_read"`
	BytesWritten uint64 `json:"bytes_written"`
}

// demoReport is everything the demo shows; -json prints it as it is.
type demoReport struct {
	Server    string                 `json:"server"`
	Scenarios []scenario             `json:"scenarios"`
	Conns     []demoRow              `json:"conns"`
	Probe     []probeStep            `json:"probe"`
	Leak      *leakReport            `json:"leak,omitempty"`
	Counters  hooks.CountersSnapshot `json:"counters"`
	Groups    []groupStats           `json:"groups"`
	Skipped   []string               `json:"skipped,omitempty"` // scenarios this machine cannot play, with the reason
	Errors    []string               `json:"errors,omitempty"`
}

// demo holds the tracked server and clients of the scenarios, and what the
// hooks saw.
type demo struct {
	ln       *listener.Listener
	dial     *dialer.Dialer // the client of every scenario but leak
	leakDial *dialer.Dialer // the client of the leak scenario, with leak detection
	counters *hooks.Counters
	reg      *hooks.Registry

	mu     sync.Mutex
	final  map[uint64]trackedconn.State // by ID, from EventClose
	ended  map[uint64]time.Time         // by ID: first CloseWrite, leak or Close
	leaked chan trackedconn.State       // EventLeak
	closed chan struct{}                // a tick per EventClose

	probes  []probeStep
	leakRep *leakReport
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("connwatch demo", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON document (conns, Probe answers, counters) instead of tables")
	const synopsis = "connwatch demo [-json]"
	const about = "Run every way a conn ends between a tracked server (listener.Listen on\n" +
		"127.0.0.1:0) and a tracked client (dialer.New), and print what connwatch\n" +
		"recorded: one row per conn, Probe's answers, and the hooks.Counters totals.\n" +
		"As root, the vanished-peer scenario runs in a private network namespace\n" +
		"(unshare, ip and tc) whose loopback drops every packet; elsewhere it is\n" +
		"skipped with one line saying why. Exits 0 when every scenario that could\n" +
		"run ran."
	if code, ok := parseFlags(fs, synopsis, about, args, stdout, stderr); !ok {
		return code
	}

	rep, err := playDemo()
	if err != nil {
		fmt.Fprintf(stderr, "connwatch demo: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "connwatch demo: %v\n", err)
			return 1
		}
	} else {
		printDemo(stdout, rep)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(stderr, "connwatch demo: %s\n", e)
	}
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}

// newDemo starts the demo's tracked server and clients.
func newDemo() (*demo, error) {
	d := &demo{
		counters: hooks.NewCounters(),
		reg:      hooks.New(),
		final:    map[uint64]trackedconn.State{},
		ended:    map[uint64]time.Time{},
		leaked:   make(chan trackedconn.State, 1),
		closed:   make(chan struct{}, 64),
	}
	d.reg.OnClose(d.onClose)
	d.reg.On(trackedconn.EventWriteShut, d.onEnd)
	d.reg.On(trackedconn.EventLeak, d.onLeak)
	hooked := trackedconn.Options(trackedconn.WithHook(d.counters), trackedconn.WithHook(d.reg))

	ln, err := listener.Listen("tcp", "127.0.0.1:0", hooked, trackedconn.WithName("server"))
	if err != nil {
		return nil, err
	}
	d.ln = ln
	d.dial = dialer.New(hooked, trackedconn.WithName("client"))
	d.leakDial = dialer.New(hooked, trackedconn.WithName("client"), trackedconn.WithLeakDetection())
	return d, nil
}

// playDemo runs every scenario and reports. An error means the demo could
// not start; a failed scenario is listed in Errors.
func playDemo() (*demoReport, error) {
	d, err := newDemo()
	if err != nil {
		return nil, err
	}
	ln := d.ln
	rep := &demoReport{Server: ln.Addr().String(), Scenarios: slices.Clone(scenarios)}
	for _, sc := range scenarios {
		cid, sid, err := sc.run(d)
		if err == nil {
			err = d.waitClosed(cid, sid)
		}
		if err != nil {
			rep.Errors = append(rep.Errors, sc.Name+": "+err.Error())
			continue
		}
		rep.Conns = append(rep.Conns, d.row(sc.Name, cid, sid), d.row(sc.Name, sid, cid))
	}

	// Close whatever a failed scenario left open, then read the counters.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ln.Shutdown(ctx)

	rep.Probe = d.probes
	playVanish(rep) // in its own process: not in the counters below
	rep.Leak = d.leakRep
	rep.Counters = d.counters.Snapshot()
	rep.Groups = []groupStats{
		statsOf("listener", ln.Stats()),
		statsOf("dialer", d.dial.Stats()),
		statsOf("dialer (leak detection)", d.leakDial.Stats()),
	}
	return rep, nil
}

func (d *demo) onClose(s trackedconn.State) {
	d.mu.Lock()
	d.final[s.ID] = s
	if _, ok := d.ended[s.ID]; !ok {
		d.ended[s.ID] = time.Now()
	}
	d.mu.Unlock()
	select {
	case d.closed <- struct{}{}:
	default:
	}
}

func (d *demo) onEnd(s trackedconn.State) {
	d.mu.Lock()
	if _, ok := d.ended[s.ID]; !ok {
		d.ended[s.ID] = time.Now()
	}
	d.mu.Unlock()
}

// onLeak runs on the runtime's cleanup goroutine: it must not block.
func (d *demo) onLeak(s trackedconn.State) {
	d.onEnd(s)
	select {
	case d.leaked <- s:
	default:
	}
}

// waitClosed waits until EventClose fired for every id. Most conns close
// on the demo's goroutine; a leaked one closes on the runtime's cleanup
// goroutine.
func (d *demo) waitClosed(ids ...uint64) error {
	deadline := time.After(closeHookWait)
	for {
		d.mu.Lock()
		missing := slices.IndexFunc(ids, func(id uint64) bool { _, ok := d.final[id]; return !ok })
		d.mu.Unlock()
		if missing < 0 {
			return nil
		}
		select {
		case <-d.closed:
		case <-deadline:
			return fmt.Errorf("conn %d: no EventClose after %v", ids[missing], closeHookWait)
		}
	}
}

// row describes conn id as the final State and the hooks tell; peer is the
// other end of the same connection.
func (d *demo) row(name string, id, peer uint64) demoRow {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.final[id]
	first := s.Side
	if d.ended[peer].Before(d.ended[id]) {
		first = d.final[peer].Side
	}
	return demoRow{
		Scenario:     name,
		ID:           s.ID,
		Side:         s.Side.String(),
		ClosedFirst:  first.String(),
		Cause:        s.Cause.String(),
		Flags:        hooks.Flags(s),
		BytesRead:    s.BytesRead,
		BytesWritten: s.BytesWritten,
		AgeMS:        float64(s.Age().Microseconds()) / 1000,
	}
}

// pair dials the server and accepts the conn. Every Read and Write
// on both ends is bounded by ioTimeout.
func (d *demo) pair() (client, server *trackedconn.Conn, err error) {
	c, err := d.dial.Dial("tcp", d.ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	client = c.(*trackedconn.Conn)
	server, err = d.accept()
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	deadline := time.Now().Add(ioTimeout)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	return client, server, nil
}

// greeted is pair, after the client wrote "hello" and the server read it.
func (d *demo) greeted() (client, server *trackedconn.Conn, err error) {
	client, server, err = d.pair()
	if err != nil {
		return nil, nil, err
	}
	if _, err = client.Write([]byte("hello")); err == nil {
		_, err = io.ReadFull(server, make([]byte, 5))
	}
	if err != nil {
		closeBoth(client, server)
		return nil, nil, err
	}
	return client, server, nil
}

// accept accepts the conn that was just dialed: it is in the backlog.
func (d *demo) accept() (*trackedconn.Conn, error) {
	c, err := d.ln.Accept()
	if err != nil {
		return nil, err
	}
	return c.(*trackedconn.Conn), nil
}
