package connz_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/trackedconn"
)

// page is the JSON of the handler.
type page struct {
	Stats struct {
		Total   map[string]any   `json:"total"`
		Sources []map[string]any `json:"sources"`
		Live    int              `json:"live"`
		Matched int              `json:"matched"`
		Listed  int              `json:"listed"`
		Omitted int              `json:"omitted"`
	} `json:"stats"`
	Conns []map[string]any `json:"conns"`
}

func getJSON(t *testing.T, h http.Handler, target string) page {
	t.Helper()
	code, ctype, body := get(t, h, target)
	require.Equal(t, http.StatusOK, code, "GET %s: %s", target, body)
	require.Equal(t, "application/json", ctype, "GET %s: Content-Type", target)
	var p page
	require.NoError(t, json.Unmarshal([]byte(body), &p), "GET %s: JSON: %s", target, body)
	return p
}

func TestParams(t *testing.T) {
	w := newWorld(t, 2)
	h := connz.Handler(w.ln, w.d)
	id := w.servers[0].(*trackedconn.Conn).ID()
	for _, tc := range []struct {
		query string
		code  int
		ctype string
	}{
		{"", http.StatusOK, "text/html; charset=utf-8"},
		{"?format=html", http.StatusOK, "text/html; charset=utf-8"},
		{"?format=json", http.StatusOK, "application/json"},
		{"?format=text", http.StatusOK, "text/plain; charset=utf-8"},
		{"?sort=age", http.StatusOK, ""},
		{"?sort=idle", http.StatusOK, ""},
		{"?sort=bytes", http.StatusOK, ""},
		{"?sort=rtt", http.StatusOK, ""},
		{"?sort=id&format=text", http.StatusOK, ""},
		{"?liveness=stalled", http.StatusOK, ""},
		{"?liveness=peer-closed&format=json", http.StatusOK, ""},
		{"?name=api", http.StatusOK, ""},
		{"?name=", http.StatusOK, ""},
		{"?source=dialer", http.StatusOK, ""},
		{"?limit=1", http.StatusOK, ""},
		{"?id=" + itoa(id), http.StatusOK, ""},
		{"?id=" + itoa(id) + "&format=json", http.StatusOK, ""},
		{"?id=" + itoa(id) + "&format=text", http.StatusOK, ""},
		{"?id=99999999", http.StatusNotFound, ""},
		{"?format=xml", http.StatusBadRequest, ""},
		{"?sort=size", http.StatusBadRequest, ""},
		{"?sort=", http.StatusBadRequest, ""},
		{"?liveness=dead", http.StatusBadRequest, ""},
		{"?id=x", http.StatusBadRequest, ""},
		{"?id=0", http.StatusBadRequest, ""},
		{"?id=-1", http.StatusBadRequest, ""},
		{"?limit=0", http.StatusBadRequest, ""},
		{"?limit=-5", http.StatusBadRequest, ""},
		{"?limit=ten", http.StatusBadRequest, ""},
		{"?sort=age&sort=idle", http.StatusBadRequest, ""},
		{"?verbose=1", http.StatusBadRequest, ""},
	} {
		code, ctype, body := get(t, h, "/debug/conns"+tc.query)
		assert.Equal(t, tc.code, code, "%s: status; body %s", tc.query, body)
		if tc.ctype != "" {
			assert.Equal(t, tc.ctype, ctype, "%s: Content-Type", tc.query)
		}
		if code >= 400 {
			assert.Equal(t, 1, strings.Count(body, "\n"), "%s: one line: %q", tc.query, body)
			assert.True(t, strings.HasPrefix(body, "connz: "), "%s: the reason says who: %q", tc.query, body)
		}
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "POST")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestJSON(t *testing.T) {
	w := newWorld(t, 2)
	var g trackedconn.Group
	a, b := net.Pipe()
	defer b.Close()
	pipe := trackedconn.Wrap(a, trackedconn.WithGroup(&g), trackedconn.WithName("pipe"))
	defer pipe.Close()
	h := connz.Handler(w.ln, w.d, connz.Named("pipes", &g))

	p := getJSON(t, h, "/?format=json&sort=id")
	require.Len(t, p.Conns, 5, "two pairs and the pipe")
	assert.Equal(t, 5, p.Stats.Live, "stats.live")
	assert.Equal(t, 5, p.Stats.Listed, "stats.listed")
	assert.Equal(t, 0, p.Stats.Omitted, "stats.omitted")
	assert.EqualValues(t, 5, p.Stats.Total["active"], "stats.total.active")
	require.Len(t, p.Stats.Sources, 3, "one summary per source")
	assert.Equal(t, "listener "+w.ln.Addr().String(), p.Stats.Sources[0]["name"], "a listener's name")
	assert.Equal(t, "dialer", p.Stats.Sources[1]["name"], "a dialer's name")
	assert.Equal(t, "pipes", p.Stats.Sources[2]["name"], "a Named source")
	for _, c := range p.Conns {
		for _, key := range []string{"id", "name", "side", "local", "remote", "opened_at",
			"bytes_read", "bytes_written", "flags", "liveness", "tcp", "source", "age_seconds", "idle_seconds"} {
			assert.Contains(t, c, key, "conn %v: key %q", c["id"], key)
		}
		assert.NotContains(t, c, "origin", "conn %v: no stack in the list", c["id"])
	}
	last := p.Conns[4]
	assert.Equal(t, "pipe", last["name"], "sort=id: the pipe is last")
	assert.Nil(t, last["tcp"], "a pipe has no TCPInfo: null")
	assert.Equal(t, "unknown", last["liveness"], "a pipe's liveness")
	assert.Equal(t, []any{}, last["flags"], "no flag: an empty list")
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		tcp, ok := p.Conns[0]["tcp"].(map[string]any)
		require.True(t, ok, "a TCP conn has its TCPInfo: %v", p.Conns[0]["tcp"])
		assert.Equal(t, "established", tcp["state"], "tcp.state")
		assert.Contains(t, tcp, "rtt_seconds", "tcp.rtt_seconds")
		assert.Contains(t, tcp, "total_retrans", "tcp.total_retrans")
	}
}

func TestSortAndFilter(t *testing.T) {
	w := newWorld(t, 3)
	big := w.clients[1].(*trackedconn.Conn)
	_, err := big.Write(make([]byte, 1000))
	require.NoError(t, err, "write")
	require.NoError(t, w.clients[2].Close(), "close a client: its server conn reads peer-closed")
	h := connz.Handler(w.ln, w.d)

	p := getJSON(t, h, "/?format=json&sort=bytes")
	require.NotEmpty(t, p.Conns, "conns")
	assert.EqualValues(t, big.ID(), p.Conns[0]["id"], "sort=bytes: the biggest first")

	p = getJSON(t, h, "/?format=json")
	for i := 1; i < len(p.Conns); i++ {
		assert.LessOrEqual(t, p.Conns[i-1]["opened_at"], p.Conns[i]["opened_at"], "default: oldest first")
	}

	p = getJSON(t, h, "/?format=json&name=client")
	assert.Len(t, p.Conns, 2, "name=client: the two live dialed conns")
	for _, c := range p.Conns {
		assert.Equal(t, "client", c["name"], "name filter")
	}
	assert.Equal(t, 5, p.Stats.Live, "live counts every conn")
	assert.Equal(t, 2, p.Stats.Matched, "matched counts the filtered")

	p = getJSON(t, h, "/?format=json&source=dialer")
	assert.Len(t, p.Conns, 2, "source=dialer")

	if runtime.GOOS != "windows" {
		server := w.servers[2].(*trackedconn.Conn)
		require.Eventually(t, func() bool {
			p = getJSON(t, h, "/?format=json&liveness=peer-closed")
			return len(p.Conns) == 1
		}, 5*time.Second, 10*time.Millisecond, "liveness=peer-closed finds the conn whose client closed")
		assert.EqualValues(t, server.ID(), p.Conns[0]["id"], "the peer-closed conn")
		assert.Equal(t, []any{"peer-closed"}, p.Conns[0]["flags"], "its flags")
	}
}

func TestLimit(t *testing.T) {
	w := newWorld(t, 5)
	h := connz.Handler(w.ln, w.d)
	p := getJSON(t, h, "/?format=json&limit=3")
	assert.Len(t, p.Conns, 3, "limit=3 lists 3")
	assert.Equal(t, 10, p.Stats.Matched, "matched")
	assert.Equal(t, 7, p.Stats.Omitted, "the rest are counted")

	_, _, text := get(t, h, "/?format=text&limit=3")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	require.Len(t, lines, 5, "header, 3 rows, the count of the rest:\n%s", text)
	assert.Equal(t, "... and 7 more conns, not listed (limit=3)", lines[4], "the rest")

	_, _, html := get(t, h, "/?limit=3")
	assert.Equal(t, 3, strings.Count(html, `class="num id"`), "3 rows in the page")
	assert.Contains(t, html, "7 more of 10 matching conns", "the page counts the rest")
	assert.Contains(t, html, `href="?limit=10"`, "and links to all of them")

	p = getJSON(t, h, "/?format=json")
	assert.Len(t, p.Conns, 10, "default limit")
}

func TestText(t *testing.T) {
	w := newWorld(t, 2)
	h := connz.Handler(w.ln)
	_, _, text := get(t, h, "/?format=text")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	require.Len(t, lines, 3, "header and the two accepted conns:\n%s", text)
	assert.Regexp(t, `^ID\s+SIDE\s+NAME\s+LOCAL\s+REMOTE\s+AGE\s+IDLE\s+READ\s+WRITTEN\s+FLAGS\s+LIVENESS\s+RTT\s+RETRANS$`, lines[0], "header")
	col := strings.Index(lines[0], "LIVENESS")
	for _, l := range lines[1:] {
		assert.Regexp(t, `^\d+\s+server\s+server\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s`, l, "row")
		assert.NotEqual(t, " ", l[col:col+1], "aligned: the liveness starts under its heading: %q", l)
		assert.Equal(t, " ", l[col-1:col], "aligned: a space before the liveness: %q", l)
	}

	id := w.servers[0].(*trackedconn.Conn).ID()
	_, _, detail := get(t, h, "/?format=text&id="+itoa(id))
	assert.Regexp(t, `(?m)^id:\s+`+itoa(id)+`$`, detail, "detail: id")
	assert.Regexp(t, `(?m)^peer_closed:\s+false$`, detail, "detail: a State flag")
}

func TestEscaping(t *testing.T) {
	const hostile = `<script>alert("x")</script>`
	var g trackedconn.Group
	a, b := net.Pipe()
	defer b.Close()
	c := trackedconn.Wrap(a, trackedconn.WithGroup(&g), trackedconn.WithName(hostile))
	defer c.Close()
	nl := trackedconn.Wrap(b, trackedconn.WithGroup(&g), trackedconn.WithName("two\nlines\tand tab"))
	defer nl.Close()
	h := connz.Handler(connz.Named("<img src=x onerror=alert(1)>", &g))

	for _, q := range []string{"/", "/?id=" + itoa(c.ID()), "/?name=" + strings.ReplaceAll(hostile, `"`, "%22")} {
		code, _, html := get(t, h, q)
		require.Equal(t, http.StatusOK, code, "GET %s", q)
		assert.NotContains(t, html, "<script", "GET %s: no script element", q)
		assert.NotContains(t, html, "<img", "GET %s: no img element", q)
		assert.Contains(t, html, "&lt;script&gt;", "GET %s: the name shows as text", q)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'", "no script may run")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), "nosniff")

	_, _, js := get(t, h, "/?format=json")
	assert.NotContains(t, js, "<script", "JSON escapes < and >")
	var p page
	require.NoError(t, json.Unmarshal([]byte(js), &p), "JSON")
	assert.Equal(t, hostile, p.Conns[0]["name"], "the name round-trips")

	_, _, text := get(t, h, "/?format=text")
	assert.Contains(t, text, `"two\nlines\tand tab"`, "text: a name with control characters is quoted")
	assert.Equal(t, 3, strings.Count(text, "\n"), "text: a name cannot add lines:\n%s", text)
}

// annotated adds a field to the conns of a source.
type annotated struct{ connz.Source }

func (a annotated) Annotate(p trackedconn.Probed) []connz.Field {
	return []connz.Field{{Key: "pair", Value: p.State.ID * 10}, {Key: "id", Value: "ignored: built in"}}
}

func TestAnnotator(t *testing.T) {
	w := newWorld(t, 1)
	h := connz.Handler(annotated{w.ln}, w.d)
	p := getJSON(t, h, "/?format=json&sort=id")
	require.Len(t, p.Conns, 2, "conns")
	sid := w.servers[0].(*trackedconn.Conn).ID()
	for _, c := range p.Conns {
		if c["side"] == "server" {
			assert.EqualValues(t, sid*10, c["pair"], "the annotation, typed")
			assert.EqualValues(t, sid, c["id"], "a built-in key is not overridden")
		} else {
			assert.NotContains(t, c, "pair", "conns of other sources have no annotation")
		}
	}
	_, _, text := get(t, h, "/?format=text&sort=id")
	assert.Regexp(t, `^PAIR\s+ID\s+SOURCE\s+SIDE\s+NAME`, text, "text: the annotations come first, without a built-in key")
	_, _, html := get(t, h, "/")
	assert.Contains(t, html, "<th class=\"\">pair</th>", "html: a column for the annotation")
}

// counting counts the calls of Probe.
type counting struct {
	connz.Source
	probes int
}

func (c *counting) Probe() []trackedconn.Probed {
	c.probes++
	return c.Source.Probe()
}

func TestOneProbePerRequest(t *testing.T) {
	w := newWorld(t, 2)
	src := &counting{Source: w.ln}
	h := connz.Handler(src)
	for i, q := range []string{"/", "/?format=json", "/?format=text", "/?sort=rtt&limit=1", "/?id=" + itoa(w.servers[0].(*trackedconn.Conn).ID())} {
		get(t, h, q)
		assert.Equal(t, i+1, src.probes, "GET %s: one Probe of the source", q)
	}
}

func TestDetail(t *testing.T) {
	w := newWorld(t, 1, trackedconn.WithLeakDetection())
	h := connz.Handler(w.ln)
	id := w.servers[0].(*trackedconn.Conn).ID()
	code, _, html := get(t, h, "/?id="+itoa(id))
	require.Equal(t, http.StatusOK, code, "GET ?id=")
	for _, key := range []string{"opened_at", "last_read_at", "last_write_at", "closed_at", "bytes_read",
		"bytes_written", "closed", "peer_closed", "read_shut", "write_shut", "reset", "timed_out", "cause", "liveness"} {
		assert.Contains(t, html, "<th>"+key+"</th>", "the State field %s", key)
	}
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		assert.Contains(t, html, "TCPInfo", "the kernel's view")
		assert.Contains(t, html, "<th>rto</th>", "a TCPInfo field")
	}
	assert.Contains(t, html, "listener.(*Listener).Accept", "the stack that opened the conn")

	p := getJSON(t, h, "/?format=json&id="+itoa(id))
	require.Len(t, p.Conns, 1, "one conn")
	assert.Contains(t, p.Conns[0]["origin"], "newWorld", "the JSON has the stack too")
}
