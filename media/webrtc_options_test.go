package media

import (
	"net/netip"
	"strings"
	"testing"
)

func TestWebRTCHostIPs(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{HostIPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	b1, b2 := newTestBrowser(t, browserOptions{}), newTestBrowser(t, browserOptions{})
	_, a1 := b1.connect(w)
	_, a2 := b2.connect(w)
	for _, a := range []string{a1, a2} {
		var n int
		for _, line := range strings.Split(a, "\n") {
			if !strings.HasPrefix(line, "a=candidate:") {
				continue
			}
			n++
			if f := strings.Fields(line); len(f) < 5 || f[4] != "127.0.0.1" {
				t.Fatalf("candidate not on 127.0.0.1: %s", line)
			}
		}
		if n == 0 {
			t.Fatalf("answer without candidates:\n%s", a)
		}
	}
	// Every leg presents the same DTLS certificate.
	fp := func(sdp string) string {
		for _, line := range strings.Split(sdp, "\n") {
			if strings.HasPrefix(line, "a=fingerprint:") {
				return strings.TrimSpace(line)
			}
		}
		return ""
	}
	if f1, f2 := fp(a1), fp(a2); f1 == "" || f1 != f2 {
		t.Fatalf("fingerprints %q and %q", f1, f2)
	}
}

func TestWebRTCHostIPsRejected(t *testing.T) {
	for _, cfg := range []WebRTCConfig{
		{HostIPs: []netip.Addr{netip.MustParseAddr("0.0.0.0")}},
		{HostIPs: []netip.Addr{{}}},
		{HostIPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, MuxAddr: "127.0.0.1:0"},
	} {
		if w, err := NewWebRTC(cfg); err == nil {
			w.Close()
			t.Errorf("NewWebRTC(%+v) accepted", cfg)
		}
	}
}

func TestHostNetCachesInterfaces(t *testing.T) {
	clock := newFakeClock()
	n, err := newHostNet(clock)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := n.Interfaces()
	b, _ := n.Interfaces()
	if len(a) == 0 || &a[0] != &b[0] {
		t.Fatalf("interfaces read again within %v", interfacesTTL)
	}
	if _, err := n.InterfaceByName(a[0].Name); err != nil {
		t.Fatal(err)
	}
	clock.Advance(interfacesTTL)
	c, _ := n.Interfaces()
	if len(c) == 0 || &c[0] == &a[0] {
		t.Fatalf("interfaces not read again after %v", interfacesTTL)
	}
}
