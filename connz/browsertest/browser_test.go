package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// hostile is a conn name that would run a script if the page did not
// escape it.
const hostile = `<script>document.title="pwned"</script><img src=x onerror=alert(1)>`

// chromium returns the path of the browser, or skips (fails in CI) the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (.ci/run: apt-get install chromium)")
	}
	t.Skip("chromium not found (apt-get install chromium); skipping the browser test")
	return ""
}

// fixture is a tracked server and clients with live loopback conns of
// several kinds, and connz serving them on an untracked server.
type fixture struct {
	base    string // the page's URL
	ln      *listener.Listener
	conns   []net.Conn
	stalled bool // a conn to a vanished peer is on the page
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"))
	require.NoError(t, err, "listen")
	f := &fixture{ln: ln}
	t.Cleanup(func() {
		for _, c := range f.conns {
			c.Close()
		}
		ln.Close()
	})
	backends := dialer.New(trackedconn.WithName("postgres"))
	cache := dialer.New(trackedconn.WithName("redis"))
	var pipes trackedconn.Group

	pair := func(d *dialer.Dialer, up int, down int) (client, server net.Conn) {
		client, err := d.Dial("tcp", ln.Addr().String())
		require.NoError(t, err, "dial")
		server, err = ln.Accept()
		require.NoError(t, err, "accept")
		f.conns = append(f.conns, client, server)
		if up > 0 {
			moveBytes(t, client, server, up)
		}
		if down > 0 {
			moveBytes(t, server, client, down)
		}
		return client, server
	}
	for i := range 4 {
		pair(backends, 200*(i+1), 40000*(i+1))
	}
	pair(cache, 64, 1<<20)
	pair(cache, 0, 0)
	client, _ := pair(backends, 10, 10)
	require.NoError(t, client.Close(), "close a client: its server conn reads peer-closed")
	client, _ = pair(cache, 0, 0)
	_, err = client.Write([]byte("GET /slow\r\n")) // unread by the server: readable
	require.NoError(t, err, "write")

	stalled, why := stalledConn(t, backends)
	f.conns = append(f.conns, stalled...)
	f.stalled = stalled != nil
	if !f.stalled {
		t.Logf("no stalled conn on the page: %s", why)
	}

	a, b := net.Pipe()
	evil := trackedconn.Wrap(a, trackedconn.WithName(hostile), trackedconn.WithGroup(&pipes))
	f.conns = append(f.conns, evil, b)

	page := &http.Server{
		Handler:           connz.Handler(ln, connz.Named("postgres pool", backends), connz.Named("redis pool", cache), connz.Named("in-process pipes", &pipes)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen for the page")
	done := make(chan struct{})
	go func() {
		defer close(done)
		page.Serve(pl)
	}()
	t.Cleanup(func() {
		page.Close()
		<-done
	})
	f.base = "http://" + pl.Addr().String() + "/debug/conns"
	// Let the kernel's view settle (the peer-closed conn's FIN), so that
	// the page and the JSON fetched after it agree.
	require.Eventually(t, func() bool {
		stalled := len(f.json(t, "?liveness=stalled").Conns)
		return len(f.json(t, "?liveness=peer-closed").Conns) == 1 && len(f.json(t, "?liveness=readable").Conns) == 1 &&
			(stalled == 1) == f.stalled
	}, 10*time.Second, 20*time.Millisecond, "the conns read peer-closed, readable and (in a namespace) stalled")
	return f
}

// moveBytes writes n bytes on from and reads them on to.
func moveBytes(t *testing.T, from, to net.Conn, n int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := from.Write(make([]byte, n))
		errc <- err
	}()
	_, err := io.ReadFull(to, make([]byte, n))
	require.NoError(t, err, "read")
	require.NoError(t, <-errc, "write")
}

type page struct {
	Stats struct{ Live, Matched int }
	Conns []struct {
		ID       uint64
		Name     string
		Liveness string
	}
}

// json GETs the page's JSON with the query q ("?sort=idle").
func (f *fixture) json(t *testing.T, q string) page {
	t.Helper()
	sep := "?"
	if q != "" {
		sep = "&"
	}
	resp, err := http.Get(f.base + q + sep + "format=json")
	require.NoError(t, err, "GET the JSON")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET the JSON")
	var p page
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p), "decode the JSON")
	return p
}

// ids returns the ids of p's conns, as the page shows them.
func (p page) ids() []string {
	out := []string{}
	for _, c := range p.Conns {
		out = append(out, strconv.FormatUint(c.ID, 10))
	}
	return out
}

// browser starts headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start chromium at %s", path) // no timeout: it would stop the browser
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eval evaluates the JavaScript expression js on the page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	require.NoError(t, err, "evaluate %s", js)
	return v
}

// click clicks the element sel and waits for the page whose query has want.
func click(t *testing.T, ctx context.Context, sel string, want string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))), "click %s", sel)
	js := fmt.Sprintf(`decodeURIComponent(location.search).includes(%q) && document.readyState === "complete"`, want)
	require.Eventually(t, func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)) // fails while the page changes
		return err == nil && ok
	}, 10*time.Second, 20*time.Millisecond, "after a click on %s, the page with %s", sel, want)
}

// field is the value of key in the per-conn view.
func field(key string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("table.fields tr")].find(tr => tr.querySelector("th").textContent === %q).querySelector("td").textContent`, key)
}

// jsIDs lists the ids of the rows on the page.
const jsIDs = `[...document.querySelectorAll("table.conns tbody td.id")].map(td => td.textContent)`

// jsColumn lists the texts of the cells of class c.
func jsColumn(c string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("table.conns tbody td.%s")].map(td => td.textContent)`, c)
}

func TestPage(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t)

	// The page renders; its rows are the JSON's, in the same order.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.base),
		chromedp.WaitVisible(chromedp.CSS("table.conns")),
	), "open the page")
	want := f.json(t, "")
	assert.Equal(t, want.ids(), eval[[]string](t, ctx, jsIDs), "the rows are the JSON's conns, oldest first")
	title := fmt.Sprintf("connz · %d live conns", want.Stats.Live)
	assert.Equal(t, title, eval[string](t, ctx, "document.title"), "the title")

	// The page fits 1280 px.
	overflow := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth || [...document.querySelectorAll(".wrap")].some(w => w.scrollWidth > w.clientWidth)`)
	assert.False(t, overflow, "the page fits 1280 px: no horizontal scrolling")

	// The hostile name shows as text and runs nothing.
	assert.Contains(t, eval[[]string](t, ctx, jsColumn("name")), hostile, "the hostile name is shown as it is, as text")
	assert.Zero(t, eval[int](t, ctx, "document.scripts.length"), "no script element")
	assert.Zero(t, eval[int](t, ctx, "document.images.length"), "no img element")
	assert.Equal(t, title, eval[string](t, ctx, "document.title"), "no script ran")

	screenshot(t, ctx, "connz.png")

	// Sort by bytes: a click on the heading.
	click(t, ctx, `th a[href*="sort=bytes"]`, "sort=bytes")
	assert.Equal(t, f.json(t, "?sort=bytes").ids(), eval[[]string](t, ctx, jsIDs), "sorted by bytes, as the JSON")
	assert.Equal(t, "read", eval[string](t, ctx, `document.querySelector("th.on").textContent`), "the sorted heading stands out")

	// Filter by liveness: a click on the peer-closed chip keeps the sort.
	click(t, ctx, `a.chip.lv-peer-closed`, "liveness=peer-closed")
	assert.Contains(t, eval[string](t, ctx, "location.search"), "sort=bytes", "the filter keeps the sort")
	assert.Equal(t, []string{"peer-closed"}, eval[[]string](t, ctx, jsColumn("lv")), "the one peer-closed conn")
	assert.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll("tr.lv-peer-closed").length`), "its row stands out")

	// The stalled conn (a peer that vanished, in a private network
	// namespace) stands out, and its chip filters.
	if f.stalled {
		click(t, ctx, `a.chip.lv-stalled`, "liveness=stalled")
		assert.Equal(t, []string{"stalled"}, eval[[]string](t, ctx, jsColumn("lv")), "the one stalled conn")
		assert.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll("tr.lv-stalled").length`), "its row stands out")
		assert.Equal(t, "rgb(255, 235, 233)", eval[string](t, ctx, `getComputedStyle(document.querySelector("tr.lv-stalled td")).backgroundColor`), "in red")
	}

	// Remove the filter (a click on it), then filter by name: a click on a name.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(".filters a.chip")),
		chromedp.WaitNotPresent(chromedp.CSS(".filters")),
	), "remove the filter")
	click(t, ctx, `td.name a[href*="name=redis"]`, "name=redis")
	ids := eval[[]string](t, ctx, jsIDs)
	assert.Equal(t, f.json(t, "?sort=bytes&name=redis").ids(), ids, "the redis conns, as the JSON")
	names := eval[[]string](t, ctx, jsColumn("name"))
	assert.NotEmpty(t, names, "redis conns")
	for _, n := range names {
		assert.Equal(t, "redis", n, "only redis conns")
	}

	// The per-conn view opens from the id.
	require.NotEmpty(t, ids, "a row to open")
	click(t, ctx, `table.conns td.id a`, "id="+ids[0])
	assert.Equal(t, "connz · conn "+ids[0], eval[string](t, ctx, `document.querySelector("h1").textContent`), "the conn's heading")
	assert.Equal(t, ids[0], eval[string](t, ctx, field("id")), "the conn's id")
	assert.Equal(t, "redis", eval[string](t, ctx, field("name")), "the conn's name")

	// The hostile conn's own view.
	var evil string
	for _, c := range f.json(t, "").Conns {
		if c.Name == hostile {
			evil = strconv.FormatUint(c.ID, 10)
		}
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.base+"?id="+evil),
		chromedp.WaitVisible(chromedp.CSS("table.fields")),
	), "open the hostile conn")
	assert.Equal(t, hostile, eval[string](t, ctx, field("name")), "the name, as text")
	assert.Zero(t, eval[int](t, ctx, "document.scripts.length + document.images.length"), "no script or img element")
	assert.True(t, strings.HasPrefix(eval[string](t, ctx, "document.title"), "conn "+evil), "no script ran")

	// The stalled conn's view, for the eye: its TCPInfo shows the retransmissions.
	if f.stalled {
		id := f.json(t, "?liveness=stalled").ids()[0]
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(f.base+"?id="+id),
			chromedp.WaitVisible(chromedp.CSS("table.fields")),
		), "open the stalled conn")
		assert.Equal(t, "stalled", eval[string](t, ctx, field("liveness")), "its liveness")
		screenshot(t, ctx, "connz-conn.png")
	}
}

// screenshot saves the page, 1280 px wide, as build/name at the root of
// the repository, or in the directory $CONNZ_SCREENSHOTS.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CONNZ_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "build")
	}
	path := filepath.Join(dir, name)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err, "screenshot")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755), "mkdir")
	require.NoError(t, os.WriteFile(path, png, 0o644), "write the screenshot")
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	t.Logf("screenshot: %s (%d bytes)", abs, len(png))
}
