package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/connwatch/connwatch/internal/netns"
	"github.com/connwatch/connwatch/trackedconn"
)

// The vanished-peer scenario needs a private network namespace whose
// loopback can drop every packet (root, unshare, ip, tc): the demo runs
// itself again there, as the hidden command vanishCmd, and merges what
// that run reports. No packet leaves that namespace.

const (
	vanishCmd  = "demo-vanish"
	vanishName = "vanished-peer"
	vanishWait = 3 * time.Second // bound on waiting for the stall
)

var vanishScenario = scenario{vanishName,
	"the server vanishes (its packets are dropped: no FIN, no RST) while 1000 bytes are in flight; the client probes, then closes",
	nil}

// vanishReport is what the run in the namespace prints.
type vanishReport struct {
	Conns []demoRow   `json:"conns"`
	Probe []probeStep `json:"probe"`
}

// playVanish runs the vanished-peer scenario in a private namespace and
// adds it to rep, or says in rep.Skipped why it could not.
func playVanish(rep *demoReport) {
	if err := netns.Available(); err != nil {
		rep.Skipped = append(rep.Skipped, vanishName+": "+err.Error())
		return
	}
	exe, err := os.Executable()
	if err != nil {
		rep.Errors = append(rep.Errors, vanishName+": "+err.Error())
		return
	}
	var stderr bytes.Buffer
	cmd := netns.Command(exe, vanishCmd)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v: %s", vanishName, err, bytes.TrimSpace(stderr.Bytes())))
		return
	}
	var vr vanishReport
	if err := json.Unmarshal(out, &vr); err != nil {
		rep.Errors = append(rep.Errors, vanishName+": "+err.Error())
		return
	}
	rep.Scenarios = append(rep.Scenarios, vanishScenario)
	rep.Conns = append(rep.Conns, vr.Conns...)
	rep.Probe = append(rep.Probe, vr.Probe...)
}

// runVanish is the hidden command the demo runs in the namespace: it plays
// the scenario and prints a vanishReport.
func runVanish(stdout, stderr io.Writer) int {
	if !netns.Inside() {
		fmt.Fprintf(stderr, "connwatch %s: only the demo runs this, in a private network namespace\n", vanishCmd)
		return 2
	}
	d, err := newDemo()
	if err != nil {
		fmt.Fprintf(stderr, "connwatch %s: %v\n", vanishCmd, err)
		return 1
	}
	defer d.ln.Close()
	cid, sid, err := d.vanish()
	if err == nil {
		err = d.waitClosed(cid, sid)
	}
	if err != nil {
		fmt.Fprintf(stderr, "connwatch %s: %v\n", vanishCmd, err)
		return 1
	}
	vr := vanishReport{Conns: []demoRow{d.row(vanishName, cid, sid), d.row(vanishName, sid, cid)}, Probe: d.probes}
	if err := json.NewEncoder(stdout).Encode(vr); err != nil {
		fmt.Fprintf(stderr, "connwatch %s: %v\n", vanishCmd, err)
		return 1
	}
	return 0
}

func (d *demo) vanish() (uint64, uint64, error) {
	c, s, err := d.greeted()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	d.probed(vanishName, "before", c.Probe())
	if err := netns.Blackhole(true); err != nil {
		return 0, 0, err
	}
	defer netns.Blackhole(false)
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	l := c.Probe()
	for l != trackedconn.LivenessStalled && time.Since(start) < vanishWait {
		time.Sleep(10 * time.Millisecond)
		l = c.Probe()
	}
	step := fmt.Sprintf("the server vanished, 1000 bytes in flight: after %v", time.Since(start).Round(10*time.Millisecond))
	if ti, err := c.TCPInfo(); err == nil {
		step += fmt.Sprintf(" (unacked %d, retransmits %d, rto %v)", ti.Unacked, ti.Retransmits, ti.RTO)
	}
	d.probed(vanishName, step, l)
	if l != trackedconn.LivenessStalled {
		return 0, 0, fmt.Errorf("Probe() = %v %v after the server vanished, want stalled", l, vanishWait)
	}
	c.Close() // Cause stalled: the socket was stalled when Close looked
	s.Close()
	return c.ID(), s.ID(), nil
}
