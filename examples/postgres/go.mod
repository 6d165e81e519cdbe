module github.com/connwatch/connwatch/examples/postgres

go 1.25.0

replace (
	github.com/connwatch/connwatch => ../../
	github.com/connwatch/connwatch/integration => ../../integration
)

require (
	github.com/connwatch/connwatch v0.0.0-00010101000000-000000000000
	github.com/connwatch/connwatch/integration v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.13.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
