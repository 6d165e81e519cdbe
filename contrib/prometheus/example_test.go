package prometheus_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	connprom "github.com/connwatch/connwatch/contrib/prometheus"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func ExampleNew() {
	// One Collector for the listener and the dialer, on a registry of our own.
	c := connprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) // serve mux with an http.Server

	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"), trackedconn.WithHook(c))
	if err != nil {
		panic(err)
	}
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(c))
	c.TrackDialer("backend", d) // attempts and failures

	// One conn: the client writes and closes; the server reads to EOF and closes.
	conn, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	server, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	_, _ = conn.Write([]byte("hello"))
	_ = conn.Close()
	_, _ = io.Copy(io.Discard, server)
	_ = server.Close()
	_ = ln.Close()

	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil || m.GetCounter().GetValue() == 0 || strings.Contains(mf.GetName(), "bytes") {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			fmt.Printf("%s{%s} %v\n", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue())
		}
	}
	// Output:
	// net_conntrack_dialer_conn_attempted_total{dialer_name=backend} 1
	// net_conntrack_dialer_conn_closed_by_cause_total{cause=local,dialer_name=backend} 1
	// net_conntrack_dialer_conn_closed_total{dialer_name=backend} 1
	// net_conntrack_dialer_conn_established_total{dialer_name=backend} 1
	// net_conntrack_listener_conn_accepted_total{listener_name=api} 1
	// net_conntrack_listener_conn_closed_by_cause_total{cause=peer,listener_name=api} 1
	// net_conntrack_listener_conn_closed_total{listener_name=api} 1
	// net_conntrack_listener_conn_peer_closed_total{listener_name=api} 1
}
