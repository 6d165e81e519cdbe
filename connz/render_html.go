package connz

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("connz").Parse(pageHTML))

// link is a text with a relative URL ("?sort=idle").
type link struct {
	Text, Href string
	On         bool // the current sort or filter
	Class      string
}

// counter is a source's summary line.
type counter struct {
	Name                  link
	Opened, Active, Close uint64
	Read, Written         string
}

// cell is a table cell: Text, linked when Href is set, with a Title on hover.
type cell struct {
	Text, Href, Title, Class string
}

// write writes c as a td element, every value escaped.
func (c *cell) write(b *strings.Builder) {
	b.WriteString("<td")
	if c.Class != "" {
		b.WriteString(` class="`)
		b.WriteString(template.HTMLEscapeString(c.Class))
		b.WriteByte('"')
	}
	if c.Title != "" {
		b.WriteString(` title="`)
		b.WriteString(template.HTMLEscapeString(c.Title))
		b.WriteByte('"')
	}
	b.WriteByte('>')
	if c.Href != "" {
		b.WriteString(`<a href="`)
		b.WriteString(template.HTMLEscapeString(c.Href)) // a relative "?..." URL, query-escaped
		b.WriteString(`">`)
		b.WriteString(template.HTMLEscapeString(c.Text))
		b.WriteString("</a>")
	} else {
		b.WriteString(template.HTMLEscapeString(c.Text))
	}
	b.WriteString("</td>")
}

// pageData is what page.html renders.
type pageData struct {
	Now       string
	Sources   []counter
	Total     counter
	Live      int
	Liveness  []link
	Filters   []link // the filters on, each linking to the page without it
	Heads     []link
	Rows      template.HTML // the tr elements of the conns, escaped by table
	Matched   int
	Omitted   int
	More      string // the link that lists every matched conn
	JSON      string
	Text      string
	Detail    []Field
	TCP       []Field
	Origin    string
	DetailID  uint64
	BackHref  string
	LiveClass string
}

// href returns the relative URL of q's parameters with key set to val
// ("" removes it).
func href(q *query, key, val string) string {
	v := q.values()
	if val == "" {
		v.Del(key)
	} else {
		v.Set(key, val)
	}
	if len(v) == 0 {
		return "?"
	}
	return "?" + v.Encode()
}

// renderHTML writes snap as the page.
func renderHTML(w io.Writer, snap *snapshot) error {
	q := &snap.q
	d := pageData{
		Now:     snap.now.Format("2006-01-02 15:04:05 MST"),
		Live:    snap.live,
		Matched: snap.matched,
		Omitted: snap.matched - len(snap.rows),
		JSON:    href(q, "format", "json"),
		Text:    href(q, "format", "text"),
	}
	for _, s := range snap.sources {
		d.Sources = append(d.Sources, counter{
			Name:   link{Text: s.Name, Href: href(q, "source", s.Name), On: q.hasSrc && q.source == s.Name},
			Opened: s.Opened, Active: s.Active, Close: s.Closed,
			Read: size(s.BytesRead), Written: size(s.BytesWritten),
		})
	}
	t := snap.total
	d.Total = counter{Opened: t.Opened, Active: t.Active, Close: t.Closed, Read: size(t.BytesRead), Written: size(t.BytesWritten)}
	for _, name := range livenesss {
		if n := snap.liveness[name]; n > 0 {
			d.Liveness = append(d.Liveness, link{
				Text: fmt.Sprintf("%d %s", n, name), Href: href(q, "liveness", name),
				On: q.liveness == name, Class: "lv-" + name,
			})
		}
	}
	if q.id != 0 {
		return renderHTMLDetail(w, snap, &d)
	}
	for _, f := range [...]struct {
		key, val string
		on       bool
	}{{"source", q.source, q.hasSrc}, {"name", q.name, q.hasName}, {"liveness", q.liveness, q.liveness != ""}} {
		if f.on {
			d.Filters = append(d.Filters, link{Text: f.key + " = " + strconv.Quote(f.val), Href: href(q, f.key, "")})
		}
	}
	if d.Omitted > 0 {
		d.More = href(q, "limit", strconv.Itoa(snap.matched))
	}
	d.Heads, d.Rows = table(snap)
	return page.Execute(w, &d)
}

// table returns the headings and rows of snap's conns. It writes the rows
// itself, escaping every value with template.HTMLEscapeString, rather than
// through the template: a page of 5,000 conns then renders in a tenth of the
// time.
func table(snap *snapshot) ([]link, template.HTML) {
	q := &snap.q
	var heads []link
	for _, k := range snap.extra {
		heads = append(heads, link{Text: k})
	}
	sorted := func(text, key string) link {
		return link{Text: text, Href: href(q, "sort", key), On: q.sort == key, Class: "num"}
	}
	many := len(snap.sources) > 1
	heads = append(heads, sorted("id", "id"))
	if many {
		heads = append(heads, link{Text: "source"})
	}
	heads = append(heads, link{Text: "side"}, link{Text: "name"}, link{Text: "local"}, link{Text: "remote"},
		sorted("age", "age"), sorted("idle", "idle"), sorted("read", "bytes"), sorted("written", "bytes"),
		link{Text: "flags"}, link{Text: "liveness"}, sorted("rtt", "rtt"), link{Text: "retrans", Class: "num"})

	hrefs := map[[2]string]string{} // the filter links, by key and value: the same few values repeat
	filter := func(key, val string) string {
		h, ok := hrefs[[2]string{key, val}]
		if !ok {
			h = href(q, key, val)
			hrefs[[2]string{key, val}] = h
		}
		return h
	}
	var b strings.Builder
	b.Grow(len(snap.rows) * 1200)
	c := make([]cell, 0, len(heads))
	for i := range snap.rows {
		r := &snap.rows[i]
		s := &r.State
		c = c[:0]
		for _, k := range snap.extra {
			v := r.field(k)
			if v == nil {
				c = append(c, cell{Text: "–"})
			} else {
				c = append(c, cell{Text: fmt.Sprint(v)})
			}
		}
		id := strconv.FormatUint(s.ID, 10)
		c = append(c, cell{Text: id, Href: "?id=" + id, Class: "num id", Title: "open the conn"})
		if many {
			src := snap.source(r)
			c = append(c, cell{Text: src, Href: filter("source", src), Class: "src", Title: src})
		}
		lv := r.Liveness.String()
		rtt, retrans := cell{Text: "–", Class: "num"}, cell{Text: "–", Class: "num"}
		if r.TCP != nil {
			rtt.Text = rttString(r.TCP.RTT)
			retrans.Text = strconv.FormatUint(uint64(r.TCP.TotalRetrans), 10)
			if r.TCP.Retransmits > 0 {
				retrans.Title = fmt.Sprintf("%d timeouts in a row now, %d segments unacked", r.TCP.Retransmits, r.TCP.Unacked)
				retrans.Class = "num hot"
			}
		}
		c = append(c,
			cell{Text: s.Side.String()},
			cell{Text: s.Name, Href: filter("name", s.Name), Class: "name", Title: s.Name},
			cell{Text: addr(s.LocalAddr), Class: "addr"},
			cell{Text: addr(s.RemoteAddr), Class: "addr"},
			cell{Text: dur(r.age), Class: "num", Title: "opened " + s.OpenedAt.Format(time.RFC3339Nano)},
			cell{Text: dur(r.idle), Class: "num"},
			cell{Text: size(s.BytesRead), Class: "num", Title: strconv.FormatInt(s.BytesRead, 10) + " bytes"},
			cell{Text: size(s.BytesWritten), Class: "num", Title: strconv.FormatInt(s.BytesWritten, 10) + " bytes"},
			cell{Text: strings.Join(flags(s), " ")},
			cell{Text: lv, Href: filter("liveness", lv), Class: "lv lv-" + lv},
			rtt, retrans,
		)
		b.WriteString(`<tr class="lv-`)
		b.WriteString(lv)
		b.WriteString(`">`)
		for i := range c {
			c[i].write(&b)
		}
		b.WriteString("</tr>\n")
	}
	return heads, template.HTML(b.String())
}

// renderHTMLDetail writes the one conn of snap.
func renderHTMLDetail(w io.Writer, snap *snapshot, d *pageData) error {
	r := &snap.rows[0]
	d.DetailID = r.State.ID
	d.LiveClass = "lv-" + r.Liveness.String()
	d.BackHref = href(&snap.q, "id", "")
	d.Detail = stateFields(r, snap.source(r))
	if r.TCP != nil {
		d.TCP = tcpFields(r.TCP)
	}
	if r.State.Origin != nil {
		d.Origin = r.State.Origin.String()
	}
	return page.Execute(w, d)
}

// detailFields lists stateFields and the TCPInfo fields of r.
func detailFields(r *row, source string) []Field {
	out := stateFields(r, source)
	if r.TCP != nil {
		for _, f := range tcpFields(r.TCP) {
			out = append(out, Field{"tcp_" + f.Key, f.Value})
		}
	}
	return out
}

// stateFields lists every State field of r, with source the name of its
// source, Probe's answer and the source's fields.
func stateFields(r *row, source string) []Field {
	s := &r.State
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Format(time.RFC3339Nano)
	}
	out := []Field{
		{"id", s.ID}, {"source", source}, {"name", s.Name}, {"side", s.Side},
		{"local", addr(s.LocalAddr)}, {"remote", addr(s.RemoteAddr)},
		{"liveness", r.Liveness},
		{"opened_at", at(s.OpenedAt)}, {"age", dur(r.age)},
		{"last_read_at", at(s.LastReadAt)}, {"last_write_at", at(s.LastWriteAt)}, {"idle", dur(r.idle)},
		{"closed_at", at(s.ClosedAt)},
		{"bytes_read", s.BytesRead}, {"bytes_written", s.BytesWritten},
		{"closed", s.Closed}, {"peer_closed", s.PeerClosed}, {"read_shut", s.ReadShut},
		{"write_shut", s.WriteShut}, {"reset", s.Reset}, {"timed_out", s.TimedOut}, {"cause", s.Cause},
	}
	return append(out, r.extra...)
}

// tcpFields lists the fields of t.
func tcpFields(t *trackedconn.TCPInfo) []Field {
	return []Field{
		{"state", t.State}, {"rtt", rttString(t.RTT)}, {"rtt_var", rttString(t.RTTVar)}, {"rto", rttString(t.RTO)},
		{"unacked", t.Unacked}, {"retransmits", t.Retransmits}, {"total_retrans", t.TotalRetrans},
		{"probes", t.Probes}, {"last_data_sent", dur(t.LastDataSent)}, {"last_data_recv", dur(t.LastDataRecv)},
		{"last_ack_recv", dur(t.LastAckRecv)}, {"snd_wnd", t.SndWnd}, {"not_sent", t.NotSent},
	}
}
