package connz

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// renderText writes snap as aligned columns, one conn a line, for curl; the
// one-conn view (?id=N) as one "key: value" line per field.
func renderText(w io.Writer, snap *snapshot) {
	if snap.q.id != 0 {
		renderTextDetail(w, snap)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var b strings.Builder
	for _, k := range snap.extra {
		b.WriteString(strings.ToUpper(plain(k)))
		b.WriteByte('\t')
	}
	b.WriteString("ID\t")
	many := len(snap.sources) > 1
	if many {
		b.WriteString("SOURCE\t")
	}
	b.WriteString("SIDE\tNAME\tLOCAL\tREMOTE\tAGE\tIDLE\tREAD\tWRITTEN\tFLAGS\tLIVENESS\tRTT\tRETRANS\n")
	io.WriteString(tw, b.String())
	for i := range snap.rows {
		r := &snap.rows[i]
		b.Reset()
		for _, k := range snap.extra {
			if v := r.field(k); v != nil {
				b.WriteString(plain(fmt.Sprint(v)))
			} else {
				b.WriteByte('-')
			}
			b.WriteByte('\t')
		}
		s := &r.State
		b.WriteString(strconv.FormatUint(s.ID, 10))
		b.WriteByte('\t')
		if many {
			b.WriteString(plain(snap.source(r)))
			b.WriteByte('\t')
		}
		rtt, retrans := "-", "-"
		if r.TCP != nil {
			rtt, retrans = rttString(r.TCP.RTT), strconv.FormatUint(uint64(r.TCP.TotalRetrans), 10)
		}
		cells := [...]string{
			s.Side.String(), plain(s.Name),
			plain(addr(s.LocalAddr)), plain(addr(s.RemoteAddr)), dur(r.age), dur(r.idle),
			strconv.FormatInt(s.BytesRead, 10), strconv.FormatInt(s.BytesWritten, 10),
			plain(strings.Join(flags(s), ",")), r.Liveness.String(), rtt, retrans,
		}
		b.WriteString(strings.Join(cells[:], "\t"))
		b.WriteByte('\n')
		io.WriteString(tw, b.String())
	}
	tw.Flush()
	if n := snap.matched - len(snap.rows); n > 0 {
		fmt.Fprintf(w, "... and %d more conns, not listed (limit=%d)\n", n, snap.q.limit)
	}
}

// renderTextDetail writes the one conn of snap, a field a line.
func renderTextDetail(w io.Writer, snap *snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	r := &snap.rows[0]
	for _, f := range detailFields(r, snap.source(r)) {
		fmt.Fprintf(tw, "%s:\t%s\n", f.Key, plain(fmt.Sprint(f.Value)))
	}
	tw.Flush()
	if o := r.State.Origin; o != nil {
		fmt.Fprintf(w, "\nopened at (leak detection):\n%s\n", o)
	}
}
