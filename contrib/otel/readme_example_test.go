package otel_test

import (
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	connotel "github.com/connwatch/connwatch/contrib/otel"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// The README's OpenTelemetry snippet, compiled, not run (it listens on
// :8080).
func Example_readme() {
	// Any metric.MeterProvider; nil means otel.GetMeterProvider().
	mp := sdkmetric.NewMeterProvider( /* sdkmetric.WithReader(your exporter's reader) */ )
	m, err := connotel.New(mp)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := listener.Listen("tcp", ":8080", trackedconn.WithName("api"), trackedconn.WithHook(m))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close() // serve on ln
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(m))
	m.TrackDialer("backend", d) // connwatch.dial.attempted / connwatch.dial.failed
}
