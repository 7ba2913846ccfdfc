package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"

	"callgate/configs"
)

// TestServeBuiltInDefault runs the built-in default config (what `callgate` with no
// arguments serves) on free ports: it must print its page URL, be ready, and stop
// cleanly when its context ends (what SIGINT/SIGTERM do).
func TestServeBuiltInDefault(t *testing.T) {
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen.SIPUDP, cfg.Listen.SIPTCP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Listen.PublicHTTP, cfg.Listen.InternalHTTP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Demo.Carrier = "127.0.0.1:0"
	cfg.Storage.SQLite.Path = filepath.Join(t.TempDir(), "callgate.db")
	cfg.Media.PortMin, cfg.Media.PortMax = 34000, 34998

	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), out) }()
	url := out.wait(t, regexp.MustCompile(`page at (http://127\.0\.0\.1:\d+/)`))[1]
	res, err := http.Get(url + "readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("readyz = %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after shutdown: %v", err)
	}
	if _, err := http.Get(url + "healthz"); err == nil {
		t.Fatal("still serving HTTP after shutdown")
	}
}
