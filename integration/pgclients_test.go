package integration

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgPool is what the tests need of a pgx pool and of a database/sql pool.
type pgPool interface {
	// Int runs a query that returns one integer.
	Int(ctx context.Context, query string, args ...any) (int64, error)
	// Hold opens n conns at once, then gives them back to the pool.
	Hold(ctx context.Context, n int) error
	Close()
}

// pgPoolKinds are the two pools every PostgreSQL test runs with: pgxpool
// with ConnConfig.DialFunc, and database/sql with the pgx stdlib driver.
var pgPoolKinds = []struct {
	name string
	open func(dsn string, tr *tracker, max int, params map[string]string) (pgPool, error)
}{
	{"pgxpool", openPgxPool},
	{"database/sql", openSQLDB},
}

type pgxPool struct{ p *pgxpool.Pool }

func openPgxPool(dsn string, tr *tracker, max int, params map[string]string) (pgPool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.DialFunc = tr.DialContext // the one line that plugs connwatch in
	cfg.MaxConns = int32(max)
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return pgxPool{p}, nil
}

func (p pgxPool) Int(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = p.p.QueryRow(ctx, query, args...).Scan(&n)
	return n, err
}

func (p pgxPool) Hold(ctx context.Context, n int) error {
	var held []*pgxpool.Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range n {
		c, err := p.p.Acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
		if err := c.Ping(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p pgxPool) Close() { p.p.Close() }

type sqlDB struct{ db *sql.DB }

func openSQLDB(dsn string, tr *tracker, max int, params map[string]string) (pgPool, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.DialFunc = tr.DialContext // the one line that plugs connwatch in
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(max)
	db.SetMaxIdleConns(max)
	return sqlDB{db}, nil
}

func (p sqlDB) Int(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = p.db.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

func (p sqlDB) Hold(ctx context.Context, n int) error {
	var held []*sql.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range n {
		c, err := p.db.Conn(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
		if err := c.PingContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p sqlDB) Close() { p.db.Close() }
