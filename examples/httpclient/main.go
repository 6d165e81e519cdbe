// Httpclient shows, with a tracked dialer under an http.Transport, whether
// an http.Client reuses its conns. It does when each response body is read
// to EOF and closed; it dials a new conn for every request when bodies are
// closed unread.
//
//	go run ./examples/httpclient               # against an in-process test server
//	go run ./examples/httpclient -n 10 -url http://127.0.0.1:8080/
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the example with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("httpclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 5, "requests per run")
	url := fs.String("url", "", "URL to GET (default: an in-process httptest server with a 64 KiB body)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *n < 1 {
		fmt.Fprintln(stderr, "httpclient: -n must be at least 1")
		return 2
	}
	if *url == "" {
		body := strings.Repeat("x", 64<<10)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, body)
		}))
		defer srv.Close()
		*url = srv.URL
	}

	for _, drain := range []bool{true, false} {
		label := "bodies read to EOF and closed:"
		if !drain {
			label = "bodies closed unread:"
		}
		st, err := fetch(*url, *n, drain)
		if err != nil {
			fmt.Fprintln(stderr, "httpclient:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%-30s %d requests, dialer Stats: Opened %d\n", label, *n, st.Opened)
	}
	return 0
}

// fetch GETs url n times through a fresh Transport over a tracked dialer,
// reading each body to EOF if drain, and returns the dialer's Stats.
func fetch(url string, n int, drain bool) (trackedconn.Stats, error) {
	d := dialer.New(trackedconn.WithName("client"))
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			return trackedconn.Stats{}, err
		}
		if drain {
			io.Copy(io.Discard, resp.Body) // at EOF the Transport takes the conn back
		}
		resp.Body.Close() // unread: the Transport must close the conn
	}
	return d.Stats(), nil
}
