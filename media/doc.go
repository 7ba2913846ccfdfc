// Package media moves audio between the legs of a callgate call.
//
// It owns the RTP side of the B2BUA:
//
//   - [Header] parses and rewrites RTP fixed headers in place, without
//     allocating, over buffers the caller owns.
//   - [ParseSDP], [SessionDesc.Marshal] and [Negotiate] cover the audio subset
//     of SDP offer/answer (RFC 4566, RFC 3264) that carrier trunks speak.
//   - [Ports] hands out even RTP ports from a range, round robin, and keeps a
//     released port out of use for a cool-down so that late packets of an old
//     call never land in a new one.
//   - [Leg] is one RTP endpoint toward a SIP peer: a UDP socket on a port from
//     [Ports], symmetric RTP (latching to the address packets really come
//     from) and lock-free counters.
//   - [WebRTC] answers agents' browsers (pion, G.711 only) with a
//     [BrowserLeg]: one PeerConnection per logged-in agent, kept for the whole
//     session, that calls attach to and detach from in turn.
//   - [Bridge] relays RTP between two [Endpoint]s (legs of either kind) in
//     both directions, rewriting SSRC, sequence numbers, timestamps and
//     payload types so that each peer sees one continuous stream, and relays,
//     reports and injects RFC 4733 DTMF.
//   - [MuLawEncode], [ALawEncode], their decoders, [Tone] and [ToneLevel] are
//     G.711 helpers for tests and generated audio.
//
// The package does not transcode: both legs of a bridge must have negotiated
// the same codec ([NewBridgeConfig] checks this). Time comes from an injected
// [Clock]; nothing in the package keeps mutable package-level state.
package media
