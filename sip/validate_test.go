package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func parseRequest(t *testing.T, raw string) *sip.Request {
	t.Helper()
	m, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatalf("sipgo cannot parse the test message: %v\n%s", err, raw)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatal("not a request")
	}
	return req
}

func TestValidateRequest(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(testInvite, old, new, 1) }
	noBody := func(s string) string {
		i := strings.Index(s, "\r\n\r\n")
		return strings.Replace(s[:i+4], "Content-Length: 139", "Content-Length: 0", 1)
	}
	for _, tc := range []struct {
		name, raw string
		code      int
		header    string // a header the answer must carry
	}{
		{"valid INVITE", testInvite, 200, ""},
		{"valid OPTIONS", testOptions, 200, ""},
		{"SIP/3.0", edit("127.0.0.1:5060 SIP/2.0", "127.0.0.1:5060 SIP/3.0"), 505, ""},
		{"no To", edit("To: <sip:+8675500000001@127.0.0.1:5060>\r\n", ""), 400, ""},
		{"two From", edit("CSeq:", "From: <sip:x@y>;tag=2\r\nCSeq:"), 400, ""},
		{"two Call-ID", edit("CSeq:", "Call-ID: other\r\nCSeq:"), 400, ""},
		{"two Max-Forwards", edit("CSeq:", "Max-Forwards: 5\r\nCSeq:"), 400, ""},
		{"CSeq method differs", edit("CSeq: 1 INVITE", "CSeq: 1 BYE"), 400, ""},
		{"urn Request-URI", edit("INVITE sip:+8675500000001@127.0.0.1:5060", "INVITE urn:service:sos"), 416, ""},
		{"tel Request-URI", edit("INVITE sip:+8675500000001@127.0.0.1:5060", "INVITE tel:+8675500000001"), 200, ""},
		{"headers in the Request-URI", edit("@127.0.0.1:5060 SIP/2.0", "@127.0.0.1:5060?Route=%3Csip:x%3E SIP/2.0"), 400, ""},
		{"http From", edit("From: \"Carrier A\" <sip:+8613800000001@10.0.0.1:5060>", "From: <http://example.com>"), 416, ""},
		{"From without tag", edit(";tag=9fxced76sl", ""), 400, ""},
		{"Max-Forwards 0", edit("Max-Forwards: 70", "Max-Forwards: 0"), 483, ""},
		{"Require", edit("Supported: replaces, timer", "Require: 100rel, precondition"), 420, "Unsupported: 100rel, precondition"},
		{"Require on OPTIONS", strings.Replace(testOptions, "CSeq:", "Require: foo\r\nCSeq:", 1), 420, "Unsupported: foo"},
		{"body not SDP", edit("Content-Type: application/sdp", "Content-Type: application/xml"), 415, "Accept: application/sdp"},
		{"SDP with parameters", edit("Content-Type: application/sdp", "Content-Type: Application/SDP; charset=utf-8"), 200, ""},
		{"gzip body", edit("CSeq:", "Content-Encoding: gzip\r\nCSeq:"), 415, "Accept: application/sdp"},
		{"body without Content-Type", edit("Content-Type: application/sdp\r\n", ""), 400, ""},
		{"Accept without SDP", edit("CSeq:", "Accept: text/plain\r\nCSeq:"), 406, "Accept: application/sdp"},
		{"Accept with */*", edit("CSeq:", "Accept: text/plain, */*\r\nCSeq:"), 200, ""},
		{"INVITE without Contact", edit("Contact: <sip:+8613800000001@10.0.0.1:5060>\r\n", ""), 400, ""},
		{"INVITE without a body", noBody(testInvite), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := parseRequest(t, tc.raw)
			err := validateRequest(req)
			code, _ := statusFor(err, 404)
			if code != tc.code {
				t.Fatalf("%d (%v), want %d", code, err, tc.code)
			}
			if err == nil {
				return
			}
			res := refusal(req, err, 404)
			if res.SipVersion != "SIP/2.0" {
				t.Fatalf("answer in %s", res.SipVersion)
			}
			if tc.header != "" && !strings.Contains(res.String(), "\r\n"+tc.header+"\r\n") {
				t.Fatalf("answer lacks %q:\n%s", tc.header, res)
			}
			if err := checkOutgoing(res); err != nil {
				t.Fatalf("refusal unsafe: %v", err)
			}
		})
	}
}

// TestValidateRepairsSpacedParams: RFC 4475 wsinv writes `;   tag    = 1918181833n`;
// sipgo keeps the spaces in the parameter names and the tags are lost.
func TestValidateRepairsSpacedParams(t *testing.T) {
	raw := strings.Replace(testInvite, ";tag=9fxced76sl", "\r\n  ;\r\n  tag = 9fxced76sl", 1)
	raw = strings.Replace(raw, "To: <sip:+8675500000001@127.0.0.1:5060>", "To: sip:+8675500000001@127.0.0.1 ;  tag   = abc", 1)
	req := parseRequest(t, raw)
	if err := validateRequest(req); err != nil {
		t.Fatal(err)
	}
	if tag, _ := req.From().Params.Get("tag"); tag != "9fxced76sl" {
		t.Fatalf("From tag %q", tag)
	}
	if tag, _ := req.To().Params.Get("tag"); tag != "abc" || req.To().Address.Host != "127.0.0.1" {
		t.Fatalf("To tag %q host %q", tag, req.To().Address.Host)
	}
}

func TestUnknownMethods(t *testing.T) {
	for method, code := range map[string]int{"REGISTER": 405, "MESSAGE": 405, "FOO": 501} {
		raw := strings.ReplaceAll(testOptions, "OPTIONS", method)
		req := parseRequest(t, raw)
		kind := ErrNotImplemented
		if knownMethod(req.Method) {
			kind = ErrMethodNotAllowed
		}
		res := refusal(req, &RequestError{Kind: kind}, 404)
		if res.StatusCode != code {
			t.Fatalf("%s: %d, want %d", method, res.StatusCode, code)
		}
		if code == 405 && !strings.Contains(res.String(), "\r\nAllow: "+allowHeader+"\r\n") {
			t.Fatalf("405 without Allow:\n%s", res)
		}
	}
}

func TestRequireTagsNeverInjected(t *testing.T) {
	raw := strings.Replace(testOptions, "CSeq:", "Require: foo\nX-Evil: 1\r\nCSeq:", 1)
	req := parseRequest(t, raw) // sipgo keeps the bare LF in the value
	err := validateRequest(req)
	if code, _ := statusFor(err, 404); code != 400 {
		t.Fatalf("a Require tag with a LF: %d (%v), want 400 (never echoed into Unsupported)", code, err)
	}
}

func TestSafeValues(t *testing.T) {
	for s, want := range map[string]bool{
		"+8613800000001": true, "+86138000000012345": false, "8613800000001": false,
		"+0123456789": false, "+86138\r\n0000": false, "+861380000000a": false, "": false,
	} {
		if got := safeNumber(s); got != want {
			t.Errorf("safeNumber(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"callgate/1.0 (edge)": true, "a\r\nVia: x": false, "a\x00": false, `a"b`: false, "": false,
		strings.Repeat("a", 257): false, "ünicode": false,
	} {
		if got := safeHeaderValue(s); got != want {
			t.Errorf("safeHeaderValue(%q) = %v", s, got)
		}
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "+8613800000001", Host: "carrier.example"})
	req.AppendHeader(sip.NewHeader("X-Ok", "fine"))
	if err := checkOutgoing(req); err != nil {
		t.Fatal(err)
	}
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+86\r\nEvil: 1", Host: "x"}})
	if err := checkOutgoing(req); err == nil {
		t.Fatal("a From user with CRLF passed checkOutgoing")
	}
	bad := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "a\r\nb", Host: "x"})
	if err := checkOutgoing(bad); err == nil {
		t.Fatal("a Request-URI with CRLF passed checkOutgoing")
	}
}
