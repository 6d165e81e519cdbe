package otel_test

import (
	"context"
	"fmt"
	"io"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	connotel "github.com/connwatch/connwatch/contrib/otel"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func ExampleNew() {
	// In a program, the MeterProvider has a periodic reader and an exporter.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	m, err := connotel.New(mp)
	if err != nil {
		panic(err)
	}
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"), trackedconn.WithHook(m))
	if err != nil {
		panic(err)
	}
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(m))
	m.TrackDialer("backend", d)

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
	_, _ = io.Copy(io.Discard, server) // the server reads to EOF and closes
	_ = server.Close()
	_ = ln.Close()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != "connwatch.conn.closed" {
				continue
			}
			for _, dp := range md.Data.(metricdata.Sum[int64]).DataPoints {
				side, _ := dp.Attributes.Value(connotel.KeySide)
				cause, _ := dp.Attributes.Value(connotel.KeyCause)
				fmt.Println(side.String(), cause.String(), dp.Value)
			}
		}
	}
	// Unordered output:
	// client local 1
	// server peer 1
}
