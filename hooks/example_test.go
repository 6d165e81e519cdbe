package hooks_test

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// Counting closes by cause: the first conn's peer hangs up before we close.
func ExampleCounters() {
	counters := hooks.NewCounters()
	for i := range 3 {
		a, b := net.Pipe()
		c := trackedconn.Wrap(a, trackedconn.WithHook(counters), trackedconn.WithName("demo"))
		if i == 0 {
			b.Close()
			c.Read(make([]byte, 1)) // io.EOF: the peer closed
		}
		c.Close()
		b.Close()
	}
	s := counters.Snapshot()
	fmt.Println("opened:", s.Total.Opened)
	fmt.Println("closed by the peer:", s.Total.ClosedBy["peer"])
	fmt.Println("closed locally:", s.Total.ClosedBy["local"])
	fmt.Println("demo:", s.ByName["demo"].Closed)
	// Output:
	// opened: 3
	// closed by the peer: 1
	// closed locally: 2
	// demo: 3
}

func ExampleRegistry() {
	reg := hooks.New()
	remove := reg.OnClose(func(s trackedconn.State) {
		fmt.Println("closed:", s.Name, s.Cause)
	})

	a, b := net.Pipe()
	defer b.Close()
	trackedconn.Wrap(a, trackedconn.WithHook(reg), trackedconn.WithName("first")).Close()

	remove() // the callback does not run for later events
	a, b = net.Pipe()
	defer b.Close()
	trackedconn.Wrap(a, trackedconn.WithHook(reg), trackedconn.WithName("second")).Close()
	// Output:
	// closed: first local
}

func ExampleLog() {
	// Drop the attributes that change from run to run.
	drop := map[string]bool{slog.TimeKey: true, "id": true, "age": true}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if drop[a.Key] {
				return slog.Attr{}
			}
			return a
		},
	}))

	a, b := net.Pipe()
	defer b.Close()
	c := trackedconn.Wrap(a, trackedconn.WithHook(hooks.Log(logger)), trackedconn.WithName("demo"))
	c.Close()
	// Output:
	// level=INFO msg="conn open" side=unknown name=demo local=pipe remote=pipe
	// level=INFO msg="conn close" side=unknown name=demo local=pipe remote=pipe cause=local read=0 written=0 flags=""
}
