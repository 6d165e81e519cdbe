// Package hooks complements trackedconn with hooks that can be attached and
// detached while conns are live, and with ready-made hooks for logs and
// metrics.
//
// A trackedconn.Option fixes its hooks when the conns are wrapped. A
// Registry is one such hook whose callbacks change at run time: register a
// callback with On, OnOpen, OnClose or Add, and call the returned remove
// function to detach it:
//
//	reg := hooks.New()
//	ln, _ := listener.Listen("tcp", ":8080", trackedconn.WithHook(reg))
//	remove := reg.OnClose(func(s trackedconn.State) { log.Println(s.ID, s.Cause) })
//	defer remove()
//
// Log returns a hook that writes one structured log/slog line per opened
// and per closed conn. NewCounters returns a hook that counts conns by event
// and by cause, in total and per name; a Counters is an expvar.Var, so
// expvar.Publish("conns", c) serves it on /debug/vars.
//
// # Zero values and concurrency
//
// A zero Registry and a zero Counters are ready to use. Both are safe for
// concurrent use: callbacks may be registered and removed from any
// goroutine, at any time, also while events are being dispatched.
//
// # Limits
//
// Hooks run synchronously on the goroutine that caused the event (the one
// calling Read, Write, Close, Probe, Accept or Dial, or the runtime's cleanup
// goroutine for a leak), so callbacks must be quick and must not block. A
// callback must not Close the conn from EventClose. A Registry recovers a
// panicking callback, reports it (see Registry.OnPanic) and goes on with
// the next one; the conn and its Close are not affected.
package hooks
