package benchkit

import (
	"errors"
	"math"
	"net/netip"
	"testing"
)

func TestRenderTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		vars       map[string]string
		want       string
		err        bool
	}{
		{"filled", "listen=@LISTEN@ # @LISTEN@\nto @CARRIER_B@", map[string]string{"LISTEN": "udp:127.0.0.1:5060", "CARRIER_B": "sip:b"},
			"listen=udp:127.0.0.1:5060 # udp:127.0.0.1:5060\nto sip:b", false},
		{"missing", "listen=@LISTEN@ db=@DB@", map[string]string{"LISTEN": "x"}, "", true},
		{"unused", "listen=@LISTEN@", map[string]string{"LISTEN": "x", "DB": "y"}, "", true},
		{"not placeholders", "user@host a@b@c @lower@", nil, "user@host a@b@c @lower@", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderTemplate(tc.text, tc.vars)
			if tc.err {
				if !errors.Is(err, ErrTemplate) {
					t.Fatalf("err = %v, want ErrTemplate", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestUDPTableHas(t *testing.T) {
	table := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1234: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0
 1235: 00000000:26C2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0
`
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:5060", true},
		{"127.0.0.2:5060", false},
		{"127.0.0.1:5061", false},
		{"0.0.0.0:9922", true},
		{"0.0.0.0:5060", true},
		{"127.0.0.1:9922", false}, // bound to 0.0.0.0, not to this address
	} {
		if got := udpTableHas(table, netip.MustParseAddrPort(tc.addr)); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestRepeated(t *testing.T) {
	var r Repeated[float64]
	r.Add(3, false)
	r.Add(1, false)
	r.Add(0, true) // skipped: counts as a planned repetition only
	pass := func(x float64) bool { return x > 2 }
	if r.Reps != 3 || len(r.Runs) != 2 {
		t.Fatalf("reps %d runs %d", r.Reps, len(r.Runs))
	}
	if m := r.Median(func(x float64) float64 { return x }); m != 2 {
		t.Errorf("median %v", m)
	}
	if r.Passed(pass) != 1 || r.Pass(pass) {
		t.Errorf("1 of 3 passed is not a pass")
	}
	if v := r.Verdict(pass); v != "1/3 ❌" {
		t.Errorf("verdict %q", v)
	}
	if F0(math.NaN()) != "–" || F1(2.25) != "2.2" || F3(0.1) != "0.100" || F0(1234.6) != "1235" {
		t.Errorf("formatting: %s %s %s %s", F0(math.NaN()), F1(2.25), F3(0.1), F0(1234.6))
	}
}
