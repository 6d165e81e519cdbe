module github.com/connwatch/connwatch/examples/redis

go 1.25.0

replace (
	github.com/connwatch/connwatch => ../../
	github.com/connwatch/connwatch/integration => ../../integration
)

require (
	github.com/connwatch/connwatch v0.0.0-00010101000000-000000000000
	github.com/connwatch/connwatch/integration v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.22.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
)
