package sip

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/routing"

	"github.com/emiago/sipgo/sip"
)

// bindingTable is a fixed binding lookup: one AXN binding on +8675500000001.
type bindingTable struct{}

var _ routing.BindingLookup = bindingTable{}

func (bindingTable) RouteBindings(_ context.Context, virtual, _ string, _ time.Time) ([]pool.Binding, error) {
	if virtual != "+8675500000001" {
		return nil, nil
	}
	return []pool.Binding{{ID: 1, Tenant: "demo", Mode: pool.ModeAXN, Virtual: virtual, B: "+8613900000002",
		Trunk: "carrier-b", Static: true, Expiry: pool.ExpiryNever}}, nil
}

// FuzzInboundRequest drives raw bytes the way an inbound message goes, without a
// network: the guard's syntax check and stateless answer, sipgo's parser, validation,
// and for an INVITE the decisions onInvite takes up to the router's answer. Nothing
// may panic; a refused request maps to a 4xx/5xx whose answer is safe to send; an
// accepted call carries E.164 numbers only to the router and from it.
func FuzzInboundRequest(f *testing.F) {
	files, err := filepath.Glob("testdata/torture/*/*.dat")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(testInvite))
	f.Add([]byte(testOptions))

	set := Settings{UDPAddr: "127.0.0.1:0", MediaBind: netip.MustParseAddr("127.0.0.1"), MediaPublic: netip.MustParseAddr("127.0.0.1")}
	trunks := []configs.Trunk{
		{Name: "carrier-a", Host: "10.0.0.1", Port: 5060, Transport: "udp", InboundCIDRs: []string{"10.0.0.0/24"}},
		{Name: "carrier-b", Host: "10.0.1.1", Port: 5060, Transport: "udp", InboundCIDRs: []string{"10.0.1.1/32"}},
	}
	e, err := New(set, trunks, routing.NewInbound(bindingTable{}, nil), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	parser := sip.NewParser()

	f.Fuzz(func(t *testing.T, data []byte) {
		// The guard, before parsing.
		hlen, _ := headEnd(data)
		head := append([]byte(nil), data[:hlen]...)
		info := scanHead(head, 0)
		if info.tidy {
			if tidy := tidyHead(head); len(tidy) > hlen || hasBareCRLF(tidy) && !hasBareCRLF(data[:hlen]) {
				t.Fatalf("tidyHead grew the head or broke its lines: %q", tidy)
			}
		}
		if res := statelessResponse(data[:hlen], 400, "Bad Request"); res != nil {
			if !bytes.HasPrefix(res, []byte("SIP/2.0 400 Bad Request\r\n")) || hasBareCRLF(res) ||
				!bytes.HasSuffix(res, []byte("\r\nContent-Length: 0\r\n\r\n")) {
				t.Fatalf("stateless answer %q", res)
			}
		}
		_ = topViaPort(data[:hlen], 5060)

		// sipgo, then validation.
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("10.0.0.7:5060")
		req.SetTransport("UDP")
		if err := validateRequest(req); err != nil {
			code, _ := statusFor(err, 404)
			if code < 400 || code > 599 {
				t.Fatalf("refusal %v maps to %d", err, code)
			}
			res := refusal(req, err, 404)
			for _, h := range refusalHeaders(err) {
				if checkOutgoing(res) == nil && !safeHeaderValue(h.Value()) {
					t.Fatalf("refusal header %s: %q is not safe", h.Name(), h.Value())
				}
			}
			return
		}
		if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.SipVersion != "SIP/2.0" {
			t.Fatal("a request without its mandatory headers passed validation")
		}
		if !req.IsInvite() {
			return
		}
		step, in, err := e.classifyInvite(req)
		switch step {
		case stepRefuse:
			if code, _ := statusFor(err, 404); code != 403 {
				t.Fatalf("a trunk's INVITE refused with %d", code)
			}
			return
		case stepReInvite:
			return
		}
		if in.Name() != "carrier-a" {
			t.Fatalf("source 10.0.0.7 classified as trunk %s", in.Name())
		}
		ic, err := inboundCallOf(in, req)
		if ic.Caller != "" && !safeNumber(ic.Caller) {
			t.Fatalf("caller %q is not E.164", ic.Caller)
		}
		if err != nil {
			if code, _ := statusFor(err, 404); code != 484 {
				t.Fatalf("callee %q refused with %d", req.Recipient.User, code)
			}
			return
		}
		if !safeNumber(ic.Callee) {
			t.Fatalf("callee %q is not E.164", ic.Callee)
		}
		dec, err := e.router.Route(context.Background(), ic)
		if err != nil {
			return
		}
		if !safeNumber(dec.Target) || !safeNumber(dec.ShowAs) {
			t.Fatalf("decision %+v: numbers not E.164", dec)
		}
	})
}
