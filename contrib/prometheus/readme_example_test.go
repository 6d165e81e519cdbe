package prometheus_test

import (
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	connprom "github.com/connwatch/connwatch/contrib/prometheus"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// An API server on :8080 that proxies to a backend and serves its conn
// metrics on /metrics. Its body is the README's Prometheus snippet; it is
// compiled, not run (it serves until killed).
func Example_server() {
	c := connprom.New()             // connprom.WithNamespace("myapp") renames net_conntrack_* to myapp_conntrack_*
	reg := prometheus.NewRegistry() // your registry: nothing goes to the global one
	reg.MustRegister(c)

	// Accepted conns count as listener_name="api"; TrackListener exports
	// its series at 0 before the first conn.
	ln, err := listener.Listen("tcp", ":8080", trackedconn.WithName("api"), trackedconn.WithHook(c))
	if err != nil {
		log.Fatal(err)
	}
	c.TrackListener("api")

	// Dialed conns count as dialer_name="backend"; TrackDialer counts the
	// attempts as they start and the failures by reason.
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(c))
	c.TrackDialer("backend", d)
	backend := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "127.0.0.1:9090"})
	backend.Transport = &http.Transport{DialContext: d.DialContext}

	mux := http.NewServeMux()
	mux.Handle("/", backend)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.Serve(ln, mux))
}
