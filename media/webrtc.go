package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
)

// WebRTCConfig configures NewWebRTC. The zero value gathers host candidates
// on any UDP port of every non-loopback interface.
type WebRTCConfig struct {
	// PortMin and PortMax bound the ephemeral UDP ports ICE opens, one per
	// browser leg. Both 0 means any port. Not with MuxAddr.
	PortMin, PortMax int

	// MuxAddr, if set, is the ip:port of one UDP socket that carries the
	// ICE, DTLS and SRTP of every browser leg (ICE UDP mux), e.g.
	// "0.0.0.0:3478"; the host candidates then carry that port. With an
	// unspecified IP every interface address becomes a candidate.
	MuxAddr string

	// NAT1To1 are the public IPs to advertise in host candidates instead of
	// the local ones, for a server behind 1:1 NAT (a cloud VM's elastic IP).
	// An entry "PUBLIC/LOCAL" maps only the local address LOCAL.
	NAT1To1 []string

	// Loopback allows loopback candidates (127.0.0.1, ::1), which pion
	// leaves out by default: for tests and a demo on one machine.
	Loopback bool

	// Logger receives the legs' events and pion's own logging (pion's info
	// at debug level, its debug and trace below that); nil discards.
	Logger *slog.Logger

	// Clock stamps packets read from browsers; nil means SystemClock(). Use
	// the clock of the bridges' other legs.
	Clock Clock
}

// WebRTC answers browsers' offers with browser legs. It holds the pion API
// (codecs, ICE settings) and, with WebRTCConfig.MuxAddr, the shared UDP
// socket. It is safe for concurrent use.
//
// Its media engine knows only PCMU (payload type 0), PCMA (8) and
// telephone-event/8000: a browser offering Opus and G.711 gets a G.711
// answer, so a bridge to a carrier relays without transcoding.
type WebRTC struct {
	api   *webrtc.API
	mux   ice.UDPMux // nil without MuxAddr
	log   *slog.Logger
	clock Clock

	mu     sync.Mutex
	closed bool
	legs   map[*BrowserLeg]struct{}

	closeOnce sync.Once
	closeErr  error
}

// The payload types the media engine registers. Answers use the offer's
// payload types; these matter only where pion offers.
const (
	ptPCMU           = 0
	ptPCMA           = 8
	ptTelephoneEvent = 101
)

const mimeTelephoneEvent = "audio/telephone-event"

// NewWebRTC validates cfg and builds the pion API. With MuxAddr it opens
// the shared UDP socket; Close closes it.
func NewWebRTC(cfg WebRTCConfig) (*WebRTC, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = SystemClock()
	}
	rules, err := rewriteRules(cfg.NAT1To1)
	if err != nil {
		return nil, err
	}

	var se webrtc.SettingEngine
	pionLog := pionLogs{log}
	se.LoggerFactory = pionLog
	// A server has no use for mDNS: it would open a multicast socket per
	// leg to hide host addresses that are public anyway.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if len(rules) > 0 {
		if err := se.SetICEAddressRewriteRules(rules...); err != nil {
			return nil, fmt.Errorf("media: webrtc NAT1To1: %w", err)
		}
	}
	switch {
	case cfg.PortMin == 0 && cfg.PortMax == 0:
	case cfg.MuxAddr != "":
		return nil, errors.New("media: webrtc PortMin/PortMax and MuxAddr are exclusive")
	case cfg.PortMin < 1 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax:
		return nil, fmt.Errorf("media: webrtc port range %d-%d is not 1 <= min <= max <= 65535", cfg.PortMin, cfg.PortMax)
	default:
		if err := se.SetEphemeralUDPPortRange(uint16(cfg.PortMin), uint16(cfg.PortMax)); err != nil {
			return nil, fmt.Errorf("media: webrtc port range: %w", err)
		}
	}

	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: G711Rate}, PayloadType: ptPCMU},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: G711Rate}, PayloadType: ptPCMA},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: G711Rate, SDPFmtpLine: DefaultDTMFEvents}, PayloadType: ptTelephoneEvent},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("media: register %s: %w", c.MimeType, err)
		}
	}
	// Sender reports only. Passing a registry keeps pion from installing
	// its defaults: NACK, TWCC and stats buy nothing for G.711 audio, and
	// its receiver-report interceptor allocates 3 objects (~430 B) per
	// packet received (it parses each header again into a new map).
	ir := &interceptor.Registry{}
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("media: rtcp sender reports: %w", err)
	}
	ir.Add(sr)

	w := &WebRTC{log: log, clock: clock, legs: make(map[*BrowserLeg]struct{})}
	if cfg.MuxAddr != "" {
		ap, err := netip.ParseAddrPort(cfg.MuxAddr)
		if err != nil {
			return nil, fmt.Errorf("media: webrtc MuxAddr %q is not ip:port", cfg.MuxAddr)
		}
		network := "udp6"
		if ap.Addr().Unmap().Is4() {
			network, ap = "udp4", netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, fmt.Errorf("media: webrtc mux socket: %w", err)
		}
		w.mux = webrtc.NewICEUDPMux(pionLog.NewLogger("udpmux"), conn)
		se.SetICEUDPMux(w.mux)
	}
	w.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
	return w, nil
}

// rewriteRules turns WebRTCConfig.NAT1To1 into pion's address rewrite
// rules: one catch-all rule for the plain IPs, one rule per PUBLIC/LOCAL.
func rewriteRules(entries []string) ([]webrtc.ICEAddressRewriteRule, error) {
	var rules []webrtc.ICEAddressRewriteRule
	var plain []string
	for _, e := range entries {
		pub, local, pair := strings.Cut(strings.TrimSpace(e), "/")
		p, err := netip.ParseAddr(pub)
		if err != nil || p.Zone() != "" {
			return nil, fmt.Errorf("media: webrtc NAT1To1 %q: not an IP address", e)
		}
		if !pair {
			plain = append(plain, p.String())
			continue
		}
		l, err := netip.ParseAddr(local)
		if err != nil || l.Zone() != "" {
			return nil, fmt.Errorf("media: webrtc NAT1To1 %q: local part is not an IP address", e)
		}
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External:        []string{p.String()},
			Local:           l.String(),
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
	}
	if len(plain) > 0 {
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External:        plain,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
	}
	return rules, nil
}

// Close closes the browser legs still open and the shared UDP socket.
// NewBrowserLeg then fails with ErrClosed. Calling Close again returns the
// first call's result.
func (w *WebRTC) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		legs := make([]*BrowserLeg, 0, len(w.legs))
		for l := range w.legs {
			legs = append(legs, l)
		}
		w.mu.Unlock()
		for _, l := range legs {
			_ = l.Close()
		}
		if w.mux != nil {
			w.closeErr = w.mux.Close()
		}
	})
	return w.closeErr
}

// add registers a new leg; false after Close.
func (w *WebRTC) add(l *BrowserLeg) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.legs[l] = struct{}{}
	return true
}

// forget removes a closed leg.
func (w *WebRTC) forget(l *BrowserLeg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.legs, l)
}
