package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"callgate/configs"
	"callgate/pool"
	"callgate/routing"
	"callgate/signaling"
	"callgate/sip"
	"callgate/web"
)

// servingStore is what serve needs of the store: the consumers' own interfaces.
// *pool.SQLiteStore is one, and so is *pool.PostgresStore; both pass the same
// conformance suite (pool/storetest).
type servingStore interface {
	pool.Store
	pool.BatchWriter
	pool.GarbageCollector
	routing.CallerStore
	routing.CallbackStore
	routing.BindingLookup
	signaling.IssuedTokens
	signaling.Records
	web.BindingStore
	web.NonceStore
	web.AgentTokenStore
	web.CallRecordStore
	web.DoNotCallStore
	web.CostStore
	web.RecordingStore
	sip.RecordingStore
	pool.CallPruner
	configStore // reload.go
	CloseOpenCalls(ctx context.Context) ([]pool.Call, error)
	SyncVirtualNumbers(ctx context.Context, ns []pool.VirtualNumber) error
}

var (
	_ servingStore = (*pool.SQLiteStore)(nil)
	_ servingStore = (*pool.PostgresStore)(nil)
)

// openStore opens the store the config chooses: SQLite (the default) or the
// PostgreSQL database several instances share.
func openStore(ctx context.Context, cfg *configs.Config, log *slog.Logger) (servingStore, error) {
	opts := []pool.Option{pool.WithLogger(log), pool.WithBindingRules(pool.BindingRulesFrom(cfg))}
	switch st := cfg.Storage; {
	case st.Postgres != nil:
		pg := st.Postgres
		s, err := pool.OpenPostgres(ctx, pool.PostgresConfig{DSN: pg.ResolvedDSN(), Instance: pg.Instance,
			MaxConns: int32(pg.MaxConns), DeadAfter: pg.DeadAfter.Std()}, opts...)
		if err != nil {
			return nil, err
		}
		log.Info("store: postgres", "instance", s.Instance())
		return s, nil
	case st.SQLite != nil:
		return pool.OpenSQLite(ctx, st.SQLite.Path, opts...)
	}
	return nil, fmt.Errorf("open store: %w", errors.New("the config names no store"))
}

// callerOptions are the outbound router's options for store: on PostgreSQL, shared
// by several instances, every caller number is reserved in the store (see
// routing.WithSharedStore) and leases carry the store's instance name.
func callerOptions(store servingStore) []routing.RouterOption {
	pg, ok := store.(*pool.PostgresStore)
	if !ok {
		return nil
	}
	return []routing.RouterOption{routing.WithSharedStore(), routing.WithInstance(pg.Instance())}
}
