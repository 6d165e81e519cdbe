package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/trackedconn"
)

// A browser gets connz's page, with the pair of each conn; ?format=json
// keeps the array of conns that curl got before.
func TestProxyDebugPage(t *testing.T) {
	up := startUpstream(t, echo)
	addrs, _ := startProxy(t, "-to", up.addr(), "-debug", "127.0.0.1:0")
	echoOnce(t, addrs.Listen)

	page, ctype := debugGet(t, addrs.Debug, "/debug/conns", "text/html,application/xhtml+xml,*/*;q=0.8")
	assert.Equal(t, "text/html; charset=utf-8", ctype, "a browser gets the page")
	assert.Contains(t, page, ">pair</th>", "the page has the pair column")
	assert.Contains(t, page, ">proxy</a>", "the page's source is the proxy")

	body, ctype := debugGet(t, addrs.Debug, "/debug/conns?format=json", "")
	assert.Equal(t, "application/json", ctype, "format=json")
	var conns []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &conns), "an array of conns: %s", body)
	require.Len(t, conns, 2, "both conns of the pair")
	for _, dc := range conns {
		for _, key := range []string{"pair", "id", "side", "name", "local", "remote", "opened_at",
			"age_seconds", "idle_seconds", "bytes_read", "bytes_written", "flags", "liveness", "tcp"} {
			assert.Contains(t, dc, key, "conn %v: key %q", dc["id"], key)
		}
		assert.NotContains(t, dc, "closed_first", "nobody ended the pair yet")
	}

	text, _ := debugGet(t, addrs.Debug, "/debug/conns?format=text&sort=idle", "")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	require.Len(t, lines, 3, "header and two conns:\n%s", text)
	assert.Regexp(t, `^PAIR\s+ID\s+SIDE\s+NAME\s+LOCAL\s+REMOTE\s+AGE\s+IDLE\s+READ\s+WRITTEN\s+FLAGS\s+LIVENESS\s+RTT\s+RETRANS$`, lines[0], "header")

	code, msg, _ := debugFetch(t, addrs.Debug, "/debug/conns?sort=size", "")
	assert.Equal(t, http.StatusBadRequest, code, "bad sort: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, "\n"), "one line: %q", msg)
}

// debugFetch GETs path from the debug server at addr, with Accept accept
// unless it is empty, and returns the status, the body and the
// Content-Type.
func debugFetch(t *testing.T, addr, path, accept string) (int, string, string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	require.NoError(t, err, "request")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "GET %s", path)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "GET %s: body", path)
	return resp.StatusCode, string(body), resp.Header.Get("Content-Type")
}

// debugGet GETs path like debugFetch, requires 200, and returns the body
// and the Content-Type.
func debugGet(t *testing.T, addr, path, accept string) (string, string) {
	t.Helper()
	code, body, ctype := debugFetch(t, addr, path, accept)
	require.Equal(t, http.StatusOK, code, "GET %s: status; body %s", path, body)
	return body, ctype
}

func TestPairSourceAnnotate(t *testing.T) {
	pr := &pair{id: 7}
	s := pairSource{pairs: map[uint64]*pair{42: pr}}
	conn := trackedconn.Probed{State: trackedconn.State{ID: 42}}
	assert.Equal(t, []connz.Field{{Key: "pair", Value: uint64(7)}}, s.Annotate(conn), "a live pair")
	pr.setFirst(whoUpstream)
	assert.Equal(t, []connz.Field{{Key: "pair", Value: uint64(7)}, {Key: "closed_first", Value: "upstream"}},
		s.Annotate(conn), "a pair the upstream ended")
	assert.Nil(t, s.Annotate(trackedconn.Probed{State: trackedconn.State{ID: 43}}), "a conn in no pair")
}
