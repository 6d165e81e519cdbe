package connz

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// jsonCounts is a trackedconn.Stats in the JSON.
type jsonCounts struct {
	Name         string `json:"name,omitempty"`
	Opened       uint64 `json:"opened"`
	Active       uint64 `json:"active"`
	Closed       uint64 `json:"closed"`
	BytesRead    uint64 `json:"bytes_read"`
	BytesWritten uint64 `json:"bytes_written"`
}

// jsonStats is the "stats" object.
type jsonStats struct {
	Total    jsonCounts     `json:"total"`
	Sources  []jsonCounts   `json:"sources"`
	Live     int            `json:"live"`     // conns probed by this request
	Liveness map[string]int `json:"liveness"` // conns probed, by Probe's answer
	Matched  int            `json:"matched"`  // conns that pass the filters
	Listed   int            `json:"listed"`   // conns in "conns"
	Omitted  int            `json:"omitted"`  // matched but over the limit
}

// jsonTCP is a trackedconn.TCPInfo in the JSON, durations in seconds.
type jsonTCP struct {
	State               string  `json:"state"`
	RTTSeconds          float64 `json:"rtt_seconds"`
	RTTVarSeconds       float64 `json:"rtt_var_seconds"`
	RTOSeconds          float64 `json:"rto_seconds"`
	Unacked             uint32  `json:"unacked"`
	Retransmits         uint32  `json:"retransmits"`
	TotalRetrans        uint32  `json:"total_retrans"`
	Probes              uint32  `json:"probes"`
	LastDataSentSeconds float64 `json:"last_data_sent_seconds"`
	LastDataRecvSeconds float64 `json:"last_data_recv_seconds"`
	LastAckRecvSeconds  float64 `json:"last_ack_recv_seconds"`
	SndWnd              uint32  `json:"snd_wnd"`
	NotSent             uint32  `json:"not_sent"`
}

// jsonConn is one conn in "conns".
type jsonConn struct {
	ID           uint64    `json:"id"`
	Source       string    `json:"source"`
	Name         string    `json:"name"`
	Side         string    `json:"side"`
	Local        string    `json:"local"`
	Remote       string    `json:"remote"`
	OpenedAt     time.Time `json:"opened_at"`
	LastReadAt   time.Time `json:"last_read_at,omitzero"`
	LastWriteAt  time.Time `json:"last_write_at,omitzero"`
	AgeSeconds   float64   `json:"age_seconds"`
	IdleSeconds  float64   `json:"idle_seconds"` // since the last byte moved either way
	BytesRead    int64     `json:"bytes_read"`
	BytesWritten int64     `json:"bytes_written"`
	Flags        []string  `json:"flags"`
	Liveness     string    `json:"liveness"`
	TCP          *jsonTCP  `json:"tcp"`
	Origin       string    `json:"origin,omitempty"` // in the one-conn view (?id=N), with leak detection
}

// builtinKeys are the JSON keys of jsonConn: fields of an Annotator with
// these keys are left out.
var builtinKeys = map[string]bool{
	"id": true, "source": true, "name": true, "side": true, "local": true, "remote": true,
	"opened_at": true, "last_read_at": true, "last_write_at": true, "age_seconds": true,
	"idle_seconds": true, "bytes_read": true, "bytes_written": true, "flags": true,
	"liveness": true, "tcp": true, "origin": true,
}

func counts(name string, s trackedconn.Stats) jsonCounts {
	return jsonCounts{name, s.Opened, s.Active, s.Closed, s.BytesRead, s.BytesWritten}
}

func tcpJSON(t *trackedconn.TCPInfo) *jsonTCP {
	if t == nil {
		return nil
	}
	return &jsonTCP{
		State: t.State, RTTSeconds: t.RTT.Seconds(), RTTVarSeconds: t.RTTVar.Seconds(),
		RTOSeconds: t.RTO.Seconds(), Unacked: t.Unacked, Retransmits: t.Retransmits,
		TotalRetrans: t.TotalRetrans, Probes: t.Probes,
		LastDataSentSeconds: t.LastDataSent.Seconds(), LastDataRecvSeconds: t.LastDataRecv.Seconds(),
		LastAckRecvSeconds: t.LastAckRecv.Seconds(), SndWnd: t.SndWnd, NotSent: t.NotSent,
	}
}

func connJSON(r *row, source string, withOrigin bool) jsonConn {
	s := &r.State
	c := jsonConn{
		ID: s.ID, Source: source, Name: s.Name, Side: s.Side.String(),
		Local: addr(s.LocalAddr), Remote: addr(s.RemoteAddr),
		OpenedAt: s.OpenedAt, LastReadAt: s.LastReadAt, LastWriteAt: s.LastWriteAt,
		AgeSeconds: r.age.Seconds(), IdleSeconds: r.idle.Seconds(),
		BytesRead: s.BytesRead, BytesWritten: s.BytesWritten,
		Flags: flags(s), Liveness: r.Liveness.String(), TCP: tcpJSON(r.TCP),
	}
	if withOrigin && s.Origin != nil {
		c.Origin = s.Origin.String()
	}
	return c
}

// renderJSON renders snap as {"stats": ..., "conns": [...]}.
func renderJSON(snap *snapshot) []byte {
	st := jsonStats{
		Total:    counts("", snap.total),
		Sources:  make([]jsonCounts, 0, len(snap.sources)),
		Live:     snap.live,
		Liveness: snap.liveness,
		Matched:  snap.matched,
		Listed:   len(snap.rows),
		Omitted:  snap.matched - len(snap.rows),
	}
	for _, s := range snap.sources {
		st.Sources = append(st.Sources, counts(s.Name, s.Stats))
	}
	var b bytes.Buffer
	b.Grow(64 + 600*len(snap.rows))
	b.WriteString(`{"stats":`)
	mustEncode(&b, st)
	b.WriteString(`,"conns":[`)
	for i := range snap.rows {
		if i > 0 {
			b.WriteByte(',')
		}
		r := &snap.rows[i]
		mustEncode(&b, connJSON(r, snap.source(r), snap.q.id != 0))
		if len(r.extra) == 0 {
			continue
		}
		b.Truncate(b.Len() - 1) // the conn's closing brace
		for _, f := range r.extra {
			b.WriteByte(',')
			mustEncode(&b, f.Key)
			b.WriteByte(':')
			if v, err := json.Marshal(f.Value); err == nil {
				b.Write(v)
			} else {
				mustEncode(&b, "connz: "+err.Error())
			}
		}
		b.WriteByte('}')
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// mustEncode appends the JSON of v, which cannot fail for the types above.
func mustEncode(b *bytes.Buffer, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		panic("connz: " + err.Error())
	}
	b.Write(out)
}
