package main

import (
	"testing"

	"callgate/bench/internal/rtpecho"
)

func TestEncodePacket(t *testing.T) {
	b := make([]byte, packetLen)
	st := rtpecho.Stamp{T0: 987654321, Call: 1499, Seq: 3}
	encodePacket(b, 0, 0xfffe, 160*7, st)
	if b[0] != 0x80 || b[1] != 0 || b[2] != 0xff || b[3] != 0xfe {
		t.Fatalf("header % x", b[:12])
	}
	got, ok := rtpecho.ReadStamp(b)
	if !ok || got != st {
		t.Fatalf("ReadStamp = %+v, %v; want %+v", got, ok, st)
	}
}

func TestFailureSummary(t *testing.T) {
	if got := failureSummary(nil); got != "none" {
		t.Fatalf("nil: %q", got)
	}
	if got := failureSummary(map[string]int{"dtls": 2, "websocket": 1}); got != "websocket 1, dtls 2" {
		t.Fatalf("%q", got)
	}
}
