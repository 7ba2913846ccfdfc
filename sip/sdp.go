package sip

import (
	"fmt"
	"net/netip"
	"strings"

	"callgate/media"
)

// dtmfPT is the telephone-event payload type callgate offers on legs it originates.
const dtmfPT = 101

// negotiation holds the codec decisions of one call: what A offered, what we offered
// B, what B chose, and so what we answer A. Audio is relayed without transcoding, so
// both legs carry the same codec; only payload-type numbers may differ.
type negotiation struct {
	offerA media.SessionDesc
	offerB []media.Format

	audioA, audioB media.Format
	dtmfA, dtmfB   *media.Format
	answered       bool // B's answer has been applied

	sessionID uint64
	versionA  uint64 // o= version of our SDP toward A
	versionB  uint64 // o= version of our SDP toward B
}

// newNegotiation reads A's offer and builds the offer for B from the codecs both
// trunks allow, in A's order, plus telephone-event.
func newNegotiation(body []byte, allowed []string, sessionID uint64) (*negotiation, error) {
	if len(body) == 0 {
		return nil, ErrNoOffer
	}
	offer, err := media.ParseSDP(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if offer.Proto != "" && offer.Proto != "RTP/AVP" {
		return nil, fmt.Errorf("%w: transport %q, want RTP/AVP", ErrBadSDP, offer.Proto)
	}
	n := &negotiation{offerA: offer, sessionID: sessionID, versionA: 1, versionB: 1}
	for _, f := range offer.Formats {
		switch {
		case isDTMF(f):
			if n.dtmfA == nil {
				f := f
				n.dtmfA = &f
			}
		case codecAllowed(f.Name, allowed):
			n.offerB = append(n.offerB, f)
		}
	}
	if len(n.offerB) == 0 {
		return nil, fmt.Errorf("%w: caller offered none of %s", media.ErrNoCommonCodec, strings.Join(allowed, ", "))
	}
	n.offerB = append(n.offerB, media.Format{PT: dtmfPT, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"})
	return n, nil
}

func isDTMF(f media.Format) bool {
	return strings.EqualFold(f.Name, "telephone-event") && f.Rate == 8000
}

func codecAllowed(name string, allowed []string) bool {
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// allowedCodecs is the intersection of two trunks' codec lists, in the outbound
// trunk's order.
func allowedCodecs(in, out []string) []string {
	var both []string
	for _, c := range out {
		if codecAllowed(c, in) {
			both = append(both, c)
		}
	}
	return both
}

// applyAnswer takes B's answer: the codec it chose (one we offered) and its
// telephone-event type, and the matching formats for A.
func (n *negotiation) applyAnswer(body []byte) (media.SessionDesc, error) {
	ans, err := media.ParseSDP(body)
	if err != nil {
		return ans, fmt.Errorf("%w: callee answer: %w", ErrBadSDP, err)
	}
	if n.answered {
		return ans, nil
	}
	var audio *media.Format
	var dtmf *media.Format
	for i := range ans.Formats {
		f := ans.Formats[i]
		if isDTMF(f) {
			if dtmf == nil {
				dtmf = &f
			}
			continue
		}
		if audio == nil {
			for _, o := range n.offerB {
				if strings.EqualFold(o.Name, f.Name) && !isDTMF(o) {
					audio = &f
					break
				}
			}
		}
	}
	if audio == nil {
		return ans, fmt.Errorf("%w: callee answered with no codec we offered", media.ErrNoCommonCodec)
	}
	for _, f := range n.offerA.Formats {
		if strings.EqualFold(f.Name, audio.Name) && !isDTMF(f) {
			n.audioA = f
			break
		}
	}
	n.audioB = *audio
	n.dtmfB = dtmf
	n.answered = true
	return ans, nil
}

// sdpForB is our offer to B.
func (n *negotiation) sdpForB(addr netip.AddrPort) []byte {
	return n.sdp(addr, n.offerB, n.versionB, media.SendRecv)
}

// sdpForA is our answer to A: the codec B chose, with A's payload types, and A's
// telephone-event if A offered it. dir is the direction we answer with.
func (n *negotiation) sdpForA(addr netip.AddrPort, dir media.Direction) []byte {
	return n.sdp(addr, inUse(n.audioA, n.dtmfA), n.versionA, dir)
}

// sdpForBAnswer is our answer to a re-INVITE from B: the codec in use with B's types.
func (n *negotiation) sdpForBAnswer(addr netip.AddrPort, dir media.Direction) []byte {
	return n.sdp(addr, inUse(n.audioB, n.dtmfB), n.versionB, dir)
}

func inUse(audio media.Format, dtmf *media.Format) []media.Format {
	if dtmf == nil {
		return []media.Format{audio}
	}
	return []media.Format{audio, *dtmf}
}

// sdp writes one of our session descriptions for a leg.
func (n *negotiation) sdp(addr netip.AddrPort, formats []media.Format, version uint64, dir media.Direction) []byte {
	return media.SessionDesc{
		Username:  "callgate",
		SessionID: n.sessionID,
		Version:   version,
		Addr:      addr.Addr(),
		Port:      int(addr.Port()),
		Formats:   formats,
		Direction: dir,
		Ptime:     20,
	}.Marshal()
}

// remoteOf is where a peer's SDP says to send RTP.
func remoteOf(d media.SessionDesc) netip.AddrPort {
	return netip.AddrPortFrom(d.Addr, uint16(d.Port))
}

// onHold reports whether an SDP puts the sender on hold: it will not receive.
func onHold(d media.SessionDesc) bool {
	return !d.Receiving()
}
