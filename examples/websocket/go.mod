module github.com/connwatch/connwatch/examples/websocket

go 1.25.0

replace github.com/connwatch/connwatch => ../../

require (
	github.com/coder/websocket v1.8.15
	github.com/connwatch/connwatch v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
)
