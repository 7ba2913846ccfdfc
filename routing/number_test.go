package routing

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeE164(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "+8613800000001", want: "+8613800000001"},
		{in: "008613800000001", want: "+8613800000001"},
		{in: "8613800000001", want: "+8613800000001"},
		{in: "+86 138-0000-0001", want: "+8613800000001"},
		{in: "+1 (415) 555.0100", want: "+14155550100"},
		{in: "", bad: true},
		{in: "+", bad: true},
		{in: "1234567", bad: true},
		{in: "+0123456789", bad: true},
		{in: "013800000001", bad: true},
		{in: "+86138000000011234", bad: true},
		{in: "+86138\r\nX: y", bad: true},
		{in: "+8613800000001;user=phone", bad: true},
		{in: "++8613800000001", bad: true},
		{in: "86+13800000001", bad: true},
		{in: "１３８", bad: true},
	}
	for _, tt := range tests {
		got, err := NormalizeE164(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrInvalidNumber) {
				t.Errorf("NormalizeE164(%q) = %q, %v; want ErrInvalidNumber", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeE164(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzNormalizeE164(f *testing.F) {
	for _, s := range []string{"+8613800000001", "0086 138", "abc", "+1\r\n", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeE164(s)
		if err != nil {
			return
		}
		if len(got) < 9 || len(got) > 16 || got[0] != '+' || got[1] == '0' {
			t.Fatalf("NormalizeE164(%q) = %q: not E.164", s, got)
		}
		if strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("NormalizeE164(%q) = %q: non-digits", s, got)
		}
		again, err := NormalizeE164(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}
