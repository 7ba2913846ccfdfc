package media

import (
	"fmt"
	"log/slog"
	"strings"
)

// Side names one of the two legs of a Bridge.
type Side uint8

// The two sides of a bridge: the legs passed to NewBridge as a and b.
const (
	SideA Side = iota
	SideB
)

// Other returns the opposite side.
func (s Side) Other() Side { return s ^ 1 }

// String returns "A" or "B".
func (s Side) String() string {
	if s == SideB {
		return "B"
	}
	return "A"
}

// PTMap maps the payload types of one direction of a bridge: input payload
// type to output payload type. It is a fixed array, so a lookup costs one
// index and never allocates. The zero PTMap drops every packet.
type PTMap struct {
	out [128]uint8 // output PT + 1; 0 = not mapped
}

// NewPTMap returns a map with each pair {in, out} mapped. Pairs with a
// payload type over 127 are ignored; a later pair for the same input wins.
func NewPTMap(pairs ...[2]uint8) PTMap {
	var m PTMap
	for _, p := range pairs {
		m.Set(p[0], p[1])
	}
	return m
}

// Set maps input payload type in to out. Values over 127 are ignored.
func (m *PTMap) Set(in, out uint8) {
	if in < 128 && out < 128 {
		m.out[in] = out + 1
	}
}

// Lookup returns the output payload type for in, and false if packets with
// payload type in are to be dropped.
func (m *PTMap) Lookup(in uint8) (out uint8, ok bool) {
	if in >= 128 || m.out[in] == 0 {
		return 0, false
	}
	return m.out[in] - 1, true
}

// BridgeConfig is what a Bridge needs to know about the two legs' SDP.
type BridgeConfig struct {
	// AtoB maps payload types of packets received on leg A to those sent on
	// leg B; BtoA the other way. Unmapped packets are dropped and counted.
	AtoB, BtoA PTMap

	// DTMFA is the telephone-event payload type negotiated with leg A: the
	// one DTMF from A arrives with (it is reported to OnDTMF, and relayed if
	// AtoB maps it), and the one SendDTMF(SideA, ...) sends toward A. DTMFB
	// is the same for leg B. 0 means none: telephone-event always uses a
	// dynamic payload type, and 0 is PCMU. Values over 127 count as 0.
	DTMFA, DTMFB uint8

	// OnDTMF, if set, is called once per RFC 4733 DTMF event received from
	// a side, when its end is seen (or when the next event starts if every
	// end packet was lost). digit is one of 0-9 * # A-D, or '!' for flash.
	// It runs on the bridge's relay goroutine for that side: it must return
	// quickly and must not call Close.
	OnDTMF func(from Side, digit byte)

	// ClockRate is the RTP clock rate of the audio in Hz, used to keep
	// timestamps continuous across input changes and for injected DTMF.
	// 0 means 8000 (G.711).
	ClockRate int

	// Clock is the source of time for DTMF pacing and for the output
	// timeline; nil means SystemClock(). Packet arrival times come from the
	// legs' clocks (WithClock), which should be the same clock.
	Clock Clock

	// Logger receives the bridge's rare events; nil discards them.
	Logger *slog.Logger

	// Tap, if set, gets a copy of every G.711 audio packet the bridge relays,
	// both directions, after rewriting (a call's Recorder, record.go). It runs on
	// the relay goroutines and must not block.
	Tap Tap
}

// NewBridgeConfig returns the config to relay between a leg that negotiated
// aAudio (and aDTMF, nil if none) and one that negotiated bAudio (and bDTMF).
// The audio formats must be the same codec (name and rate, payload types
// may differ), else ErrCodecMismatch: a bridge does not transcode.
// telephone-event is relayed only if both legs negotiated it; if only one
// did, DTMF from it is still reported to OnDTMF, so the caller can forward
// it another way (SIP INFO).
func NewBridgeConfig(aAudio Format, aDTMF *Format, bAudio Format, bDTMF *Format) (BridgeConfig, error) {
	var c BridgeConfig
	if !strings.EqualFold(aAudio.Name, bAudio.Name) || aAudio.Name == "" ||
		aAudio.Rate != bAudio.Rate || aAudio.PT > 127 || bAudio.PT > 127 {
		return c, fmt.Errorf("%w: %s/%d and %s/%d", ErrCodecMismatch,
			safeName(aAudio.Name), aAudio.Rate, safeName(bAudio.Name), bAudio.Rate)
	}
	c.AtoB.Set(aAudio.PT, bAudio.PT)
	c.BtoA.Set(bAudio.PT, aAudio.PT)
	c.ClockRate = aAudio.Rate
	if aDTMF != nil && aDTMF.PT < 128 {
		c.DTMFA = aDTMF.PT
	}
	if bDTMF != nil && bDTMF.PT < 128 {
		c.DTMFB = bDTMF.PT
	}
	if c.DTMFA != 0 && c.DTMFB != 0 {
		c.AtoB.Set(c.DTMFA, c.DTMFB)
		c.BtoA.Set(c.DTMFB, c.DTMFA)
	}
	return c, nil
}

// safeName keeps peer-supplied names out of error text unless they are
// plain tokens.
func safeName(n string) string {
	if isToken(n, 32) {
		return n
	}
	return "?"
}
