package main

import (
	"net/netip"
	"time"

	"callgate/bench/internal/rtpecho"
)

// echoServer is carrier B's media: every packet goes back to where it came from,
// stamped with the time it arrived (bench/internal/rtpecho, on this process's clock).
// The payload layout of gen.go is rtpecho's.
type echoServer struct{ srv *rtpecho.Server }

func startEcho(addr netip.AddrPort, n int) (*echoServer, error) {
	srv, err := rtpecho.Start(addr, n, now)
	if err != nil {
		return nil, err
	}
	return &echoServer{srv: srv}, nil
}

func (e *echoServer) close() { e.srv.Close() }

func (e *echoServer) resetWindow(at time.Time) { e.srv.ResetWindow(int64(at.Sub(base))) }

func (e *echoServer) closeWindow(at time.Time) { e.srv.CloseWindow(int64(at.Sub(base))) }

func (e *echoServer) fill(r *stepResult) { r.EchoReceived, r.EchoSent = e.srv.Counts() }
