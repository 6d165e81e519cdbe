package connz_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Mount the page on a server's own mux, next to its other handlers. Here
// the server's only live conn is the one asking.
func Example() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/conns", connz.Handler(ln)) // HTML; ?format=json or text
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/debug/conns?format=json")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Stats struct {
			Total struct{ Opened, Active uint64 }
		}
		Conns []struct{ Name, Side string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		log.Fatal(err)
	}
	fmt.Println("active:", page.Stats.Total.Active)
	for _, c := range page.Conns {
		fmt.Println(c.Name, c.Side)
	}
	// Output:
	// active: 1
	// api server
}

// Name the sources of the page; the summary and the JSON show each one's
// counters. A listener without a name is "listener ADDR".
func ExampleNamed() {
	var pool trackedconn.Group // the conns of a pool, say (trackedconn.WithGroup)
	h := connz.Handler(connz.Named("db pool", &pool), connz.Named("cache pool", new(trackedconn.Group)))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/conns?format=json", nil))
	var page struct {
		Stats struct {
			Sources []struct{ Name string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		log.Fatal(err)
	}
	for _, s := range page.Stats.Sources {
		fmt.Println(s.Name)
	}
	// Output:
	// db pool
	// cache pool
}
