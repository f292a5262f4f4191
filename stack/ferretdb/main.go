// Command ferretdb runs FerretDB's embeddable server for the local stack.
//
// FerretDB's own cmd/ferretdb refuses to start unless it was built from a
// git checkout with generated version files, which a module-proxy build
// never has. The embeddable package has no such check, serves the same
// MongoDB wire protocol on the same PostgreSQL backend, and keeps telemetry
// off, so the local stack builds this small wrapper around it instead.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address for MongoDB clients")
	postgresURL := flag.String("postgresql-url", "", "PostgreSQL URL of the backend database")
	logLevel := flag.String("log-level", "warn", "one of debug, info, warn, error")
	flag.Parse()

	if *postgresURL == "" {
		log.Fatal("--postgresql-url is required")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("bad --log-level: %s", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *postgresURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Stop accepting clients and close the backend pool on SIGTERM, so the
	// stack's stop command leaves no connection open in PostgreSQL.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Info("ferretdb listening", "addr", *listenAddr)
	if err := server.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
