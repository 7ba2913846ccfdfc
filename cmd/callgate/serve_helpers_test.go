package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"callgate/configs"
	"callgate/sip"
	"callgate/sip/demo"
)

// served is callgate serving a config in this process for one test.
type served struct {
	base string      // the page, http://127.0.0.1:port/
	out  *lineWriter // what callgate printed (its listeners)
	logs *lineWriter // its log, at debug level
}

// serveYAML writes text as dir/callgate.yaml, loads it and serves it until the test
// ends, when it checks that serve stopped cleanly and, if the test failed, prints the
// tail of the log.
func serveYAML(t *testing.T, dir, text string) *served {
	t.Helper()
	path := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{out: &lineWriter{}, logs: &lineWriter{}}
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), s.out)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("callgate logs:\n%s", tail(s.logs.String(), 8000))
		}
	})
	s.base = s.out.wait(t, regexp.MustCompile(`page at (http://127\.0\.0\.1:\d+/)`))[1]
	return s
}

// startToneCarrier starts the demo carrier most rigs use: it rings 200 ms, then plays
// 440 Hz for the whole call; it stops with the test.
func startToneCarrier(t *testing.T) *demo.Carrier {
	t.Helper()
	carrier := &demo.Carrier{RingFor: 200 * time.Millisecond, Tone: time.Minute, ToneHz: 440}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	return carrier
}

// freeTCPAddr returns a loopback address whose port was free a moment ago.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestICEHostIPs(t *testing.T) {
	held := func() ([]net.Addr, error) {
		return []net.Addr{
			&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("10.20.0.5"), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("::1"), Mask: net.CIDRMask(128, 128)},
		}, nil
	}
	for _, tc := range []struct {
		bind, mux string
		want      string // "" for nil: every address
	}{
		{bind: "127.0.0.1", want: "127.0.0.1"},
		{bind: "10.20.0.5", want: "10.20.0.5"},
		{bind: "::1", want: "::1"},
		{bind: "127.0.0.21"}, // binds through lo's /8, but no interface lists it
		{bind: "10.20.0.6"},
		{bind: "0.0.0.0"},
		{bind: "::"},
		{bind: "10.20.0.5", mux: "10.20.0.5:3478"},
	} {
		cfg := &configs.Config{Media: configs.Media{BindAddress: tc.bind, ICEMux: tc.mux}}
		got := iceHostIPs(cfg, held)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("bind %s mux %q: %v, want every address", tc.bind, tc.mux, got)
		case tc.want != "" && (len(got) != 1 || got[0].String() != tc.want):
			t.Errorf("bind %s mux %q: %v, want [%s]", tc.bind, tc.mux, got, tc.want)
		}
	}
	broken := func() ([]net.Addr, error) { return nil, net.UnknownNetworkError("none") }
	if got := iceHostIPs(&configs.Config{Media: configs.Media{BindAddress: "127.0.0.1"}}, broken); got != nil {
		t.Errorf("interfaces unreadable: %v, want every address", got)
	}
}

func TestRelayProcs(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(start) })

	cfg := &configs.Config{}
	set := sip.Settings{}
	prev, raised := relayProcs(cfg, &set)
	if !raised || prev != start || set.RelayWorkers != start || runtime.GOMAXPROCS(0) != 2*start {
		t.Fatalf("default: prev %d raised %v workers %d GOMAXPROCS %d; want %d workers with a P each on top of %d",
			prev, raised, set.RelayWorkers, runtime.GOMAXPROCS(0), start, start)
	}
	runtime.GOMAXPROCS(prev)

	cfg.Media.RelayWorkers = 3
	set = sip.Settings{RelayWorkers: 3}
	if _, raised := relayProcs(cfg, &set); !raised || runtime.GOMAXPROCS(0) != start+3 {
		t.Fatalf("3 workers: GOMAXPROCS %d, want %d", runtime.GOMAXPROCS(0), start+3)
	}
	runtime.GOMAXPROCS(start)

	for _, c := range []configs.Media{{RelayWorkers: -1}, {RelaySharedProcs: true}} {
		cfg.Media = c
		set = sip.Settings{RelayWorkers: c.RelayWorkers}
		if _, raised := relayProcs(cfg, &set); raised || runtime.GOMAXPROCS(0) != start {
			t.Fatalf("%+v: raised %v, GOMAXPROCS %d", c, raised, runtime.GOMAXPROCS(0))
		}
	}
}
