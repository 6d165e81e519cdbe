// Package wrapopt carries the trackedconn options that only connwatch's own
// packages give.
package wrapopt

// AfterClose returns a trackedconn.Option that calls f for each conn once
// its EventClose hooks have all returned, wherever EventClose fires. f runs
// without a State snapshot, and no other event reaches it: it is how a
// listener counts its finished conns without being a hook that every
// event of every conn calls. trackedconn's init sets it. (The option is
// returned as any: trackedconn imports this package, so its Option cannot
// be named here.)
var AfterClose func(f func()) any
