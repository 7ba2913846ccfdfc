package configs

import (
	"strings"
	"testing"
)

func TestSIPLimitsValidated(t *testing.T) {
	for _, tc := range []struct {
		yaml, want string
	}{
		{"max_message_bytes: 100", "sip: limits: max_message_bytes: must be from 1024 to 65535"},
		{"max_headers: 5", "sip: limits: max_headers: must be at least 20"},
		{"burst_per_source: -1", "sip: limits: burst_per_source: must be at least 1"},
		{"trunk_rate: 5", "sip: limits: trunk_rate: 5 is below rate_per_source (20)"},
		{"ban_for: 10ms", "sip: limits: ban_for: must be at least 1s"},
		{"tcp_idle_timeout: 1ms", "sip: limits: tcp_idle_timeout: must be at least 1s"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			_, err := envLoader(nil).load("callgate.yaml", ".", []byte("sip:\n  limits:\n    "+tc.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	cfg, err := envLoader(nil).load("callgate.yaml", ".", []byte("sip:\n  limits:\n    rate_per_source: -1\n    ban_for: -1s\n    max_message_bytes: -1\n"))
	if err != nil {
		t.Fatalf("negative limits (off) refused: %v", err)
	}
	if l := cfg.SIP.Limits; l.RatePerSource != -1 || l.BanFor >= 0 || l.MaxMessageBytes != -1 || l.MaxHeaders != 128 {
		t.Fatalf("limits after loading: %+v", l)
	}
}
