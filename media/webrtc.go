package media

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
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

	// HostIPs, if set, are the only local addresses ICE gathers host
	// candidates on; by default every address of every interface is one
	// (loopback addresses only with Loopback, or when listed here). Each
	// candidate costs every browser leg a UDP socket, a goroutine reading
	// it, an 8 KiB buffer and its own connectivity checks. Not with
	// MuxAddr, whose IP decides.
	HostIPs []netip.Addr

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

	// drainBufs are the buffers of the legs' discarding readers (*[]byte of
	// relayBufferSize), which run only between calls.
	drainBufs sync.Pool

	certMu sync.Mutex
	cert   *webrtc.Certificate // the DTLS certificate of new legs; see certificate

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
	includeLoopback := cfg.Loopback
	if len(cfg.HostIPs) > 0 {
		if cfg.MuxAddr != "" {
			return nil, errors.New("media: webrtc HostIPs and MuxAddr are exclusive")
		}
		hostIPs := make([]netip.Addr, len(cfg.HostIPs))
		for i, a := range cfg.HostIPs {
			if !a.IsValid() || a.IsUnspecified() {
				return nil, fmt.Errorf("media: webrtc HostIPs: %q is not a local address", a)
			}
			hostIPs[i] = a.Unmap()
			includeLoopback = includeLoopback || a.IsLoopback()
		}
		se.SetIPFilter(func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			return ok && slices.Contains(hostIPs, a.Unmap())
		})
	}
	se.SetIncludeLoopbackCandidate(includeLoopback)
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

	// One network for every leg's ICE agent: without it pion builds one per
	// leg, which lists the interfaces over netlink and keeps the reply.
	hn, err := newHostNet(clock)
	if err != nil {
		return nil, fmt.Errorf("media: webrtc network: %w", err)
	}
	se.SetNet(hn)

	w := &WebRTC{log: log, clock: clock, legs: make(map[*BrowserLeg]struct{})}
	w.drainBufs.New = func() any {
		b := make([]byte, relayBufferSize)
		return &b
	}
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

// certRenewBefore is how long before its expiry the legs' DTLS certificate
// is replaced for new legs.
const certRenewBefore = 24 * time.Hour

// certificate returns the DTLS certificate (ECDSA P-256, self-signed) new
// legs present. Left to itself pion generates one per PeerConnection: a key
// pair and a signature per leg, and ~2.7 KB kept for its life. Browsers
// check only its fingerprint, which the answer carries; sharing it across
// legs, as media servers commonly do, reveals no more than the server's
// address does. pion makes it valid for a month and refuses an expired
// one, so a new one is made a day before: legs already up keep theirs.
// The expiry is wall-clock time, as pion checks it.
func (w *WebRTC) certificate() (webrtc.Certificate, error) {
	w.certMu.Lock()
	defer w.certMu.Unlock()
	if w.cert == nil || time.Until(w.cert.Expires()) < certRenewBefore {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("media: dtls key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("media: dtls certificate: %w", err)
		}
		w.cert = cert
	}
	return *w.cert, nil
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

// interfacesTTL is how long hostNet reuses the host's interface list.
const interfacesTTL = time.Second

// hostNet is the network the ICE agents of all browser legs share: the
// standard library's, with the list of interfaces and addresses read at
// most once per interfacesTTL. Left to itself pion gives each leg's agent
// its own stdnet.Net, which reads the list over netlink (a few syscalls per
// interface) and keeps it for the life of the leg, and with it the whole
// netlink reply (~6.5 KB: the interfaces' hardware addresses point into
// it). hostNet copies what it keeps. It is safe for concurrent use.
type hostNet struct {
	transport.Net // listening, dialing and resolving: a *stdnet.Net
	clock         Clock

	mu  sync.Mutex
	at  time.Time // when ifs was read
	ifs []*transport.Interface
}

var _ transport.Net = (*hostNet)(nil)

func newHostNet(clock Clock) (*hostNet, error) {
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	n := &hostNet{Net: std, clock: clock}
	n.ifs, n.at = copyInterfaces(std), clock.Now()
	return n, nil
}

// copyInterfaces copies the interfaces of a freshly read stdnet.Net, so
// that they do not keep its netlink buffers.
func copyInterfaces(std *stdnet.Net) []*transport.Interface {
	ifs, _ := std.Interfaces() // stdnet's never fails
	out := make([]*transport.Interface, 0, len(ifs))
	for _, ifc := range ifs {
		c := ifc.Interface
		c.HardwareAddr = slices.Clone(c.HardwareAddr)
		cp := transport.NewInterface(c)
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			cp.AddAddress(a)
		}
		out = append(out, cp)
	}
	return out
}

// Interfaces implements transport.Net. The result is shared: callers must
// not modify it (pion's ICE does not).
func (n *hostNet) Interfaces() ([]*transport.Interface, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if now := n.clock.Now(); now.Sub(n.at) >= interfacesTTL || now.Before(n.at) {
		std, err := stdnet.NewNet()
		if err != nil {
			return nil, err
		}
		n.ifs, n.at = copyInterfaces(std), now
	}
	return n.ifs, nil
}

// InterfaceByIndex implements transport.Net.
func (n *hostNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	ifs, err := n.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifs {
		if ifc.Index == index {
			return ifc, nil
		}
	}
	return nil, fmt.Errorf("%w: index=%d", transport.ErrInterfaceNotFound, index)
}

// InterfaceByName implements transport.Net.
func (n *hostNet) InterfaceByName(name string) (*transport.Interface, error) {
	ifs, err := n.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifs {
		if ifc.Name == name {
			return ifc, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", transport.ErrInterfaceNotFound, name)
}
