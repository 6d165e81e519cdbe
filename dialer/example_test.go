package dialer_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// Is my HTTP client reusing connections? Plug the dialer into the
// Transport and look at its Stats.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()

	d := dialer.New(trackedconn.WithName("backend"))
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body) // drain and close: the conn goes back to the pool
		resp.Body.Close()
	}
	st := d.Stats()
	fmt.Println("requests: 3, conns dialed:", st.Opened, "live:", st.Active)
	for _, c := range d.Conns() {
		fmt.Println(c.Name, c.Side, c.BytesRead > 0)
	}
	// Output:
	// requests: 3, conns dialed: 1 live: 1
	// backend client true
}

func ExampleDialer_Failures() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens at addr any more

	d := dialer.New()
	_, err := d.Dial("tcp", addr)
	fmt.Println("dial failed:", err != nil)
	fmt.Printf("%+v\n", d.Failures())
	// Output:
	// dial failed: true
	// {Canceled:0 DNS:0 Timeout:0 Refused:1 Unreachable:0 TLS:0 Other:0}
}
