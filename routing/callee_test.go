package routing

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestAnalyze(t *testing.T) {
	a := NewAnalyzer()
	fw := func(s string) string { // full-width digits
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '０' + r - '0'
			}
			return r
		}, s)
	}
	tests := []struct {
		in, region string
		e164       string
		typ        LineType
		city, prov string
		cityZH     string
		carrier    string
	}{
		{in: "+8613800138000", e164: "+8613800138000", typ: LineMobile, city: "Beijing", prov: "Beijing", cityZH: "北京", carrier: "China Mobile"},
		{in: "008613800138000", e164: "+8613800138000", typ: LineMobile, city: "Beijing"},
		{in: "8613800138000", e164: "+8613800138000", typ: LineMobile, city: "Beijing"},
		{in: "13800138000", e164: "+8613800138000", typ: LineMobile, city: "Beijing"},
		{in: "138-0013-8000", e164: "+8613800138000", typ: LineMobile},
		{in: " +86 (138) 0013 8000 ", e164: "+8613800138000", typ: LineMobile},
		{in: fw("13800138000"), e164: "+8613800138000", typ: LineMobile},
		{in: "＋" + fw("86 138－0013－8000"), e164: "+8613800138000", typ: LineMobile},
		{in: "0755-1234-5678", e164: "+8675512345678", typ: LineFixed, city: "Shenzhen", prov: "Guangdong", cityZH: "深圳市"},
		{in: "075512345678", e164: "+8675512345678", typ: LineFixed, city: "Shenzhen", prov: "Guangdong"},
		{in: "+86 755 1234 5678", e164: "+8675512345678", typ: LineFixed, city: "Shenzhen"},
		{in: "86075512345678", e164: "+8675512345678", typ: LineFixed, city: "Shenzhen"},
		{in: "0086 755 12345678", e164: "+8675512345678", typ: LineFixed, city: "Shenzhen"},
		{in: "075712345678", e164: "+8675712345678", typ: LineFixed, city: "Shunde/Foshan", prov: "Guangdong", cityZH: "佛山市、顺德市"},
		{in: "09912345678", e164: "+869912345678", typ: LineFixed, city: "Urumchi", prov: "Xinjiang", cityZH: "乌鲁木齐市"},
		{in: "17012345678", e164: "+8617012345678", typ: LineMobile, city: "", carrier: "China Telecom"},
		{in: "+1 (415) 555.0100", e164: "+14155550100", typ: LineFixedOrMobile, city: "San Francisco", prov: "CA"},
		{in: "415 555 0100", region: "US", e164: "+14155550100", typ: LineFixedOrMobile},
	}
	for _, tt := range tests {
		c, err := a.Analyze(tt.in, tt.region)
		if err != nil {
			t.Errorf("Analyze(%q): %v", tt.in, err)
			continue
		}
		if c.E164 != tt.e164 || c.Type != tt.typ {
			t.Errorf("Analyze(%q) = %s %s, want %s %s", tt.in, c.E164, c.Type, tt.e164, tt.typ)
		}
		if tt.city != "" || tt.carrier != "" {
			if c.City != tt.city || (tt.prov != "" && c.Province != tt.prov) || (tt.cityZH != "" && c.CityZH != tt.cityZH) ||
				(tt.carrier != "" && c.Carrier != tt.carrier) {
				t.Errorf("Analyze(%q) = %+v; want %s, %s, %s, %s", tt.in, c, tt.city, tt.prov, tt.cityZH, tt.carrier)
			}
		}
		if n, err := a.Normalize(tt.in, tt.region); err != nil || n != tt.e164 {
			t.Errorf("Normalize(%q) = %q, %v", tt.in, n, err)
		}
	}
}

func TestAnalyzeRefuses(t *testing.T) {
	a := NewAnalyzer()
	tests := []struct {
		in, region, reason string
	}{
		{"", "", ReasonEmpty},
		{" - ", "", ReasonEmpty},
		{"12", "", ReasonTooShort},
		{"110", "", ReasonTooShort},
		{"95588", "", ReasonUnassigned},
		{"1380013800", "", ReasonUnassigned},
		{"+861380013800", "", ReasonUnassigned},
		{"138001380001234567", "", ReasonTooLong},
		{strings.Repeat("1", 80), "", ReasonTooLong},
		{"+999 1234 5678", "", ReasonCountryCode},
		{"1-800-FLOWERS", "US", ReasonCharacter},
		{"+8613800138000;ext=1", "", ReasonCharacter},
		{"13800138000 x12", "", ReasonCharacter},
		{"sip:13800138000@example.com", "", ReasonCharacter},
		{"+86138\r\n0013", "", ReasonCharacter},
		{"86+13800138000", "", ReasonCharacter},
		{"++8613800138000", "", ReasonCharacter},
		{"\xff13800138000", "", ReasonCharacter},
		{"0755 1234 5678", "XX", ReasonRegion},
		{"+1 900 555 0100", "", ReasonNotDialable},
	}
	for _, tt := range tests {
		c, err := a.Analyze(tt.in, tt.region)
		var ne *NumberError
		if !errors.As(err, &ne) || !errors.Is(err, ErrInvalidNumber) || ne.Reason != tt.reason {
			t.Errorf("Analyze(%q) = %+v, %v; want reason %s", tt.in, c, err, tt.reason)
			continue
		}
		if len(ne.Input) > maxInputBytes || strings.ContainsAny(ne.Error(), "\r\n") {
			t.Errorf("error %q for %q", ne.Error(), tt.in)
		}
	}
}

func TestPlaceKeys(t *testing.T) {
	p := Place{City: "Shunde/Foshan", Province: "Guangdong", CityZH: "佛山市、顺德市", ProvinceZH: "广东"}
	if got := p.CityKeys(); !slices.Equal(got, []string{"shunde", "foshan", "佛山", "顺德"}) {
		t.Errorf("city keys %q", got)
	}
	if got := p.ProvinceKeys(); !slices.Equal(got, []string{"guangdong", "广东"}) {
		t.Errorf("province keys %q", got)
	}
	for in, want := range map[string]string{"深圳市": "深圳", " Shenzhen ": "shenzhen", "广东省": "广东", "Shenzhen City": "shenzhen",
		"广西壮族自治区": "广西", "市": "市", "": ""} {
		if got := PlaceKey(in); got != want {
			t.Errorf("PlaceKey(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string][2]string{"广东省深圳市": {"深圳市", "广东"}, "北京市": {"北京", "北京"},
		"新疆乌鲁木齐市": {"乌鲁木齐市", "新疆"}, "中国": {"", ""}, "内蒙古兴安盟": {"兴安盟", "内蒙古"}} {
		if c, p := parseChinesePlace(in, "中国"); c != want[0] || p != want[1] {
			t.Errorf("parseChinesePlace(%q) = %q, %q", in, c, p)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"+8613800138000", "0755-1234-5678", "１３８００１３８０００", "0086 10 6200 0001", "+1\r\n", "00", "86+1", "+999"} {
		f.Add(s, "CN")
	}
	f.Add("415 555 0100", "US")
	a := NewAnalyzer()
	f.Fuzz(func(t *testing.T, s, region string) {
		c, err := a.Analyze(s, region)
		if err != nil {
			var ne *NumberError
			if !errors.As(err, &ne) || !errors.Is(err, ErrInvalidNumber) || ne.Reason == "" || len(ne.Input) > maxInputBytes {
				t.Fatalf("Analyze(%q, %q): error %v is not a NumberError", s, region, err)
			}
			return
		}
		if n, err := NormalizeE164(c.E164); err != nil || n != c.E164 {
			t.Fatalf("Analyze(%q, %q) = %q: not E.164 (%v)", s, region, c.E164, err)
		}
		again, err := a.Analyze(c.E164, "US")
		if err != nil || again.E164 != c.E164 || again.City != c.City || again.Type != c.Type {
			t.Fatalf("not idempotent: %q -> %+v -> %+v, %v", s, c, again, err)
		}
	})
}

// FuzzFastParse checks that the analyser's fast path for international input reads
// every number exactly as libphonenumber's Parse does.
func FuzzFastParse(f *testing.F) {
	for _, s := range []string{"+8613800138000", "+86075512345678", "008613800138000", "+390612345678", "+1 415 555 0100",
		"+44 20 7946 0018", "+7 495 123 45 67", "+8801712345678", "+86 10 6200 0001", "+999 1234", "+1242 3571234"} {
		f.Add(s, "CN")
	}
	fast, slow := NewAnalyzer(), &Analyzer{}
	f.Fuzz(func(t *testing.T, s, region string) {
		if len(region) > 3 {
			return
		}
		a, errA := fast.Analyze(s, region)
		b, errB := slow.Analyze(s, region)
		if (errA == nil) != (errB == nil) || a.E164 != b.E164 || a.Type != b.Type || a.City != b.City || a.Carrier != b.Carrier {
			t.Fatalf("Analyze(%q, %q): fast %+v, %v; slow %+v, %v", s, region, a, errA, b, errB)
		}
	})
}

// TestFastParseAgrees compares the fast path with Parse on random numbers of every
// country calling code.
func TestFastParseAgrees(t *testing.T) {
	fast, slow := NewAnalyzer(), &Analyzer{}
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for range 12 {
			n := fmt.Sprintf("+%d%017d", cc, rng.Uint64()%100_000_000_000_000_000)
			n = n[:min(len(n), 4+rng.IntN(13))]
			for _, in := range []string{n, "00" + n[1:]} {
				a, errA := fast.Analyze(in, "CN")
				b, errB := slow.Analyze(in, "CN")
				if (errA == nil) != (errB == nil) || a.E164 != b.E164 || a.Type != b.Type {
					t.Fatalf("%s: fast %+v, %v; slow %+v, %v", in, a, errA, b, errB)
				}
				checked++
			}
		}
	}
	t.Logf("%d numbers agree", checked)
}
