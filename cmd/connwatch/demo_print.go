package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// The demo's output: the text tables and the helpers that format a State.

// userFrame returns the first frame of o outside connwatch's library
// packages, as "function (file:line)".
func userFrame(o trackedconn.Origin) string {
	frames := o.Frames()
	for {
		f, more := frames.Next()
		lib := strings.HasPrefix(f.Function, libPrefix) && !strings.HasPrefix(f.Function, libPrefix+"cmd/")
		if !lib && f.Function != "" {
			return fmt.Sprintf("%s (%s:%d)", f.Function, filepath.Base(f.File), f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

func statsOf(group string, s trackedconn.Stats) groupStats {
	return groupStats{group, s.Opened, s.Active, s.Closed, s.BytesRead, s.BytesWritten}
}

// printDemo writes the report as text tables.
func printDemo(w io.Writer, rep *demoReport) {
	fmt.Fprintf(w, "connwatch demo: a tracked server (listener.Listen on %s) and a tracked client (dialer.New)\n\n", rep.Server)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, sc := range rep.Scenarios {
		fmt.Fprintf(tw, "  %s\t%s\n", sc.Name, sc.About)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nConns (CLOSED FIRST: the side that ended its sending first, by Close, CloseWrite or the leak detector)")
	fmt.Fprintln(tw, "SCENARIO\tID\tSIDE\tCLOSED FIRST\tCAUSE\tFLAGS\tBYTES R/W\tAGE")
	for _, r := range rep.Conns {
		flags := strings.Join(r.Flags, ",")
		if flags == "" {
			flags = "-"
		}
		age := time.Duration(r.AgeMS * float64(time.Millisecond)).Round(10 * time.Microsecond)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d/%d\t%v\n",
			r.Scenario, r.ID, r.Side, r.ClosedFirst, r.Cause, flags, r.BytesRead, r.BytesWritten, age)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nProbe (on the client: never blocks, never reads)")
	fmt.Fprintln(tw, "SCENARIO\tSTEP\tLIVENESS")
	for _, p := range rep.Probe {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Scenario, p.Step, p.Liveness)
	}
	tw.Flush()

	for _, sk := range rep.Skipped {
		fmt.Fprintf(w, "\nSkipped: %s\n", sk)
	}

	if l := rep.Leak; l != nil {
		fmt.Fprintf(w, "\nLeak: conn %d was dropped without Close; opened at %s; reclaimed after %d GC(s)\n", l.ID, l.Origin, l.GCs)
	}

	fmt.Fprintln(w, "\nCounters (hooks.Counters: every event of every conn, in total and by name)")
	names := make([]string, 0, len(rep.Counters.ByName))
	for name := range rep.Counters.ByName {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Fprint(tw, "COUNT\ttotal")
	for _, name := range names {
		fmt.Fprintf(tw, "\t%s", name)
	}
	fmt.Fprintln(tw)
	counts := append([]hooks.ConnCounts{rep.Counters.Total}, make([]hooks.ConnCounts, len(names))...)
	for i, name := range names {
		counts[i+1] = rep.Counters.ByName[name]
	}
	line := func(label string, get func(hooks.ConnCounts) uint64) {
		fmt.Fprint(tw, label)
		for _, c := range counts {
			fmt.Fprintf(tw, "\t%d", get(c))
		}
		fmt.Fprintln(tw)
	}
	line("opened", func(c hooks.ConnCounts) uint64 { return c.Opened })
	line("active", func(c hooks.ConnCounts) uint64 { return c.Active })
	line("closed", func(c hooks.ConnCounts) uint64 { return c.Closed })
	for cause := trackedconn.CauseLocal; cause <= trackedconn.CauseStalled; cause++ {
		line("  by "+cause.String(), func(c hooks.ConnCounts) uint64 { return c.ClosedBy[cause.String()] })
	}
	line("peer_closed", func(c hooks.ConnCounts) uint64 { return c.PeerClosed })
	line("resets", func(c hooks.ConnCounts) uint64 { return c.Resets })
	line("read_shuts", func(c hooks.ConnCounts) uint64 { return c.ReadShuts })
	line("write_shuts", func(c hooks.ConnCounts) uint64 { return c.WriteShuts })
	line("leaks", func(c hooks.ConnCounts) uint64 { return c.Leaks })
	tw.Flush()

	fmt.Fprintln(w, "\nStats (listener.Stats, dialer.Stats)")
	fmt.Fprintln(tw, "GROUP\tOPENED\tACTIVE\tCLOSED\tREAD\tWRITTEN")
	for _, g := range rep.Groups {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", g.Group, g.Opened, g.Active, g.Closed, g.BytesRead, g.BytesWritten)
	}
	tw.Flush()
}
