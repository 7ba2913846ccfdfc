package media

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrShortPacket means a buffer is too short for the RTP header it claims.
	ErrShortPacket = errors.New("media: rtp packet too short")
	// ErrBadVersion means an RTP packet's version field is not 2.
	ErrBadVersion = errors.New("media: rtp version is not 2")
	// ErrBadPadding means an RTP packet's padding count exceeds its payload.
	ErrBadPadding = errors.New("media: rtp padding exceeds payload")
	// ErrBufferTooSmall means a marshal destination cannot hold the result.
	ErrBufferTooSmall = errors.New("media: buffer too small")

	// ErrBadSDP is wrapped by every *SDPError.
	ErrBadSDP = errors.New("media: malformed sdp")
	// ErrNoAudio means an SDP has no audio stream, or its first audio stream
	// was rejected (port 0).
	ErrNoAudio = errors.New("media: no audio stream in sdp")
	// ErrNoCommonCodec means an offer contains none of the allowed codecs.
	ErrNoCommonCodec = errors.New("media: no common codec")
	// ErrCodecMismatch means two legs negotiated different codecs, which a
	// bridge cannot relay without transcoding.
	ErrCodecMismatch = errors.New("media: legs use different codecs")

	// ErrPortRange means a port range holds no usable even port.
	ErrPortRange = errors.New("media: invalid rtp port range")
	// ErrNoPorts means every port of the range is in use or cooling down.
	ErrNoPorts = errors.New("media: no rtp port available")

	// ErrClosed means the leg or bridge has been closed.
	ErrClosed = errors.New("media: closed")
	// ErrLegBusy means a leg is already attached to a running bridge, or a
	// bridge was given the same leg twice.
	ErrLegBusy = errors.New("media: leg already bridged")
	// ErrStarted means Start was called on a bridge that already started.
	ErrStarted = errors.New("media: bridge already started")
	// ErrNoDTMF means no telephone-event payload type is configured toward
	// the side DTMF was to be sent to.
	ErrNoDTMF = errors.New("media: no telephone-event payload type toward that side")
	// ErrBadDigit means a DTMF digit is not one of 0-9 * # A-D.
	ErrBadDigit = errors.New("media: not a dtmf digit")
	// ErrDTMFQueueFull means too many digits are waiting to be sent.
	ErrDTMFQueueFull = errors.New("media: dtmf queue full")
)

// SDPError reports where and why an SDP body could not be parsed. It wraps
// ErrBadSDP.
type SDPError struct {
	Line int    // 1-based line number, 0 if the error is about the whole body
	Msg  string // what is wrong, without the offending text
}

func (e *SDPError) Error() string {
	if e.Line == 0 {
		return "media: sdp: " + e.Msg
	}
	return fmt.Sprintf("media: sdp line %d: %s", e.Line, e.Msg)
}

// Unwrap returns ErrBadSDP.
func (e *SDPError) Unwrap() error { return ErrBadSDP }
