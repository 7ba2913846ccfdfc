package media

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func pcmu() Format { return Format{PT: 0, Name: "PCMU", Rate: 8000, Channels: 1} }
func pcma() Format { return Format{PT: 8, Name: "PCMA", Rate: 8000, Channels: 1} }
func te(pt uint8, fmtp string) Format {
	return Format{PT: pt, Name: "telephone-event", Rate: 8000, Channels: 1, Fmtp: fmtp}
}

func TestParseSDPGolden(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		file    string
		want    SessionDesc
		wantErr error
	}{
		{file: "carrier_offer.sdp", want: SessionDesc{
			Username: "Sonus_UAC", SessionID: 234521, Version: 112947,
			Addr: ip("203.0.113.20"), Port: 31258, Proto: "RTP/AVP",
			Formats: []Format{pcma(), pcmu(), te(101, "0-15")}, Direction: SendRecv, Ptime: 20,
		}},
		{file: "carrier_hold.sdp", want: SessionDesc{
			Username: "Sonus_UAC", SessionID: 234521, Version: 112948,
			Addr: ip("0.0.0.0"), Port: 31258, Proto: "RTP/AVP",
			Formats: []Format{pcma(), pcmu(), te(101, "0-15")}, Direction: SendOnly, Ptime: 20,
		}},
		{file: "carrier_minimal.sdp", want: SessionDesc{
			Username: "-", SessionID: 1, Version: 1,
			Addr: ip("198.51.100.7"), Port: 16384, Proto: "RTP/AVP",
			Formats: []Format{
				pcmu(), pcma(),
				{PT: 18, Name: "G729", Rate: 8000, Channels: 1, Fmtp: "annexb=no"},
				{PT: 13, Name: "CN", Rate: 8000, Channels: 1},
				te(101, "0-16"),
			},
			Ptime: 20,
		}},
		{file: "sipp_uac_pcap.sdp", want: SessionDesc{
			Username: "user1", SessionID: 53655765, Version: 2353687637,
			Addr: ip("127.0.0.1"), Port: 6000, Proto: "RTP/AVP",
			Formats: []Format{pcma(), te(101, "0-11,16")},
		}},
		{file: "sipp_uas.sdp", want: SessionDesc{
			Username: "user1", SessionID: 53655765, Version: 2353687637,
			Addr: ip("127.0.0.1"), Port: 6002, Proto: "RTP/AVP",
			Formats: []Format{pcmu()},
		}},
		{file: "chrome_offer.sdp", want: SessionDesc{
			Username: "-", SessionID: 4611731400430051336, Version: 2,
			Addr: ip("0.0.0.0"), Port: 9, Proto: "UDP/TLS/RTP/SAVPF",
			Formats: []Format{
				{PT: 111, Name: "opus", Rate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"},
				{PT: 63, Name: "red", Rate: 48000, Channels: 2, Fmtp: "111/111"},
				{PT: 9, Name: "G722", Rate: 8000, Channels: 1},
				pcmu(), pcma(),
				{PT: 13, Name: "CN", Rate: 8000, Channels: 1},
				{PT: 110, Name: "telephone-event", Rate: 48000, Channels: 1},
				te(126, ""),
			},
			Direction: SendRecv,
		}},
		{file: "multi_media.sdp", want: SessionDesc{
			Username: "alice", SessionID: 2890844526, Version: 2890844527,
			Addr: ip("192.0.2.2"), Port: 49170, Proto: "RTP/AVP",
			Formats:   []Format{pcmu(), {PT: 97, Name: "iLBC", Rate: 8000, Channels: 1}},
			Direction: RecvOnly, Ptime: 30,
		}},
		{file: "ipv6.sdp", want: SessionDesc{
			Username: "bob", SessionID: 42, Version: 1,
			Addr: ip("2001:db8::2"), Port: 20000, Proto: "RTP/AVP",
			Formats: []Format{pcmu(), te(100, "")}, Direction: Inactive,
		}},
		{file: "rejected_audio.sdp", wantErr: ErrNoAudio},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "sdp", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseSDP(b)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSDPEdgeCases(t *testing.T) {
	const base = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
	for _, tc := range []struct {
		name  string
		sdp   string
		check func(t *testing.T, s SessionDesc)
		err   error
		line  int // expected SDPError line, if err is ErrBadSDP
	}{
		{name: "no audio", sdp: base + "m=video 5000 RTP/AVP 96\n", err: ErrNoAudio},
		{name: "no media", sdp: base, err: ErrNoAudio},
		{name: "empty", sdp: "", err: ErrBadSDP},
		{name: "only blank lines", sdp: "\r\n\r\n", err: ErrBadSDP},
		{name: "first line not v", sdp: "o=- 1 1 IN IP4 10.0.0.1\nv=0\n", err: ErrBadSDP, line: 1},
		{name: "v=1", sdp: "v=1\n", err: ErrBadSDP, line: 1},
		{name: "repeated v", sdp: "v=0\nv=0\n", err: ErrBadSDP, line: 2},
		{name: "garbage line", sdp: base + "hello\n", err: ErrBadSDP, line: 6},
		{name: "upper-case type", sdp: base + "M=audio 1 RTP/AVP 0\n", err: ErrBadSDP, line: 6},
		{name: "bad origin", sdp: "v=0\no=- x 1 IN IP4 10.0.0.1\n", err: ErrBadSDP, line: 2},
		{name: "short origin", sdp: "v=0\no=- 1 1\n", err: ErrBadSDP, line: 2},
		{name: "hostname in c=", sdp: "v=0\nc=IN IP4 example.com\n", err: ErrBadSDP, line: 2},
		{name: "IP4 with v6 address", sdp: "v=0\nc=IN IP4 ::1\n", err: ErrBadSDP, line: 2},
		{name: "c= not IN", sdp: "v=0\nc=XX IP4 1.2.3.4\n", err: ErrBadSDP, line: 2},
		{name: "no connection", sdp: "v=0\nm=audio 5000 RTP/AVP 0\n", err: ErrBadSDP},
		{name: "port too big", sdp: base + "m=audio 70000 RTP/AVP 0\n", err: ErrBadSDP, line: 6},
		{name: "pt too big", sdp: base + "m=audio 5000 RTP/AVP 128\n", err: ErrBadSDP, line: 6},
		{name: "pt not a number", sdp: base + "m=audio 5000 RTP/AVP x\n", err: ErrBadSDP, line: 6},
		{name: "m= without formats", sdp: base + "m=audio 5000 RTP/AVP\n", err: ErrBadSDP, line: 6},
		{name: "too many formats", sdp: base + "m=audio 5000 RTP/AVP" + strings.Repeat(" 0", MaxFormats+1) + "\n", err: ErrBadSDP, line: 6},
		{name: "too large", sdp: base + strings.Repeat("a=x\n", MaxSDPSize/4), err: ErrBadSDP},
		{name: "LF, trailing spaces, unknown lines", sdp: base + "y=0100000001\nm=audio 5000 RTP/AVP 0 8  \na=foo:bar\na=rtcp:5001\n",
			check: func(t *testing.T, s SessionDesc) {
				if s.Port != 5000 || len(s.Formats) != 2 || s.Direction != SendRecv {
					t.Fatalf("%+v", s)
				}
			}},
		{name: "media c overrides session c", sdp: base + "m=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.9\n",
			check: func(t *testing.T, s SessionDesc) {
				if s.Addr != netip.MustParseAddr("10.0.0.9") {
					t.Fatal(s.Addr)
				}
			}},
		{name: "session direction, hold by address", sdp: "v=0\nc=IN IP4 0.0.0.0\na=recvonly\nm=audio 5000 RTP/AVP 0\n",
			check: func(t *testing.T, s SessionDesc) {
				if s.Direction != Inactive || s.Receiving() {
					t.Fatalf("%v %v", s.Direction, s.Receiving())
				}
			}},
		{name: "media direction overrides session", sdp: base + "a=sendonly\nm=audio 5000 RTP/AVP 0\na=sendrecv\n",
			check: func(t *testing.T, s SessionDesc) {
				if s.Direction != SendRecv || !s.Receiving() {
					t.Fatal(s.Direction)
				}
			}},
		{name: "multicast ttl, session ptime, bad rtpmap ignored", sdp: "v=0\nc=IN IP4 224.2.1.1/127\na=ptime:30\nm=audio 5000 RTP/AVP 96 0\na=rtpmap:96 opus\na=rtpmap:0 PCMU/x\na=rtpmap:55 foo/8000\n",
			check: func(t *testing.T, s SessionDesc) {
				want := []Format{{PT: 96, Channels: 1}, pcmu()}
				if s.Addr != netip.MustParseAddr("224.2.1.1") || s.Ptime != 30 || !reflect.DeepEqual(s.Formats, want) {
					t.Fatalf("%+v", s)
				}
			}},
		{name: "IPv4-mapped IP6 address is IPv4", sdp: "v=0\nc=IN IP6 ::ffff:192.0.2.1\nm=audio 5000 RTP/AVP 0\n",
			check: func(t *testing.T, s SessionDesc) {
				if s.Addr != netip.MustParseAddr("192.0.2.1") {
					t.Fatal(s.Addr)
				}
			}},
		{name: "zone in c=", sdp: "v=0\nc=IN IP6 fe80::1%eth0\n", err: ErrBadSDP, line: 2},
		{name: "duplicate pt listed once", sdp: base + "m=audio 5000 RTP/AVP 0 0 8\n",
			check: func(t *testing.T, s SessionDesc) {
				if len(s.Formats) != 2 {
					t.Fatalf("%+v", s.Formats)
				}
			}},
		{name: "lower-case pcmu canonicalised", sdp: base + "m=audio 5000 RTP/AVP 96\na=rtpmap:96 pcmu/8000\n",
			check: func(t *testing.T, s SessionDesc) {
				if s.Formats[0].Name != "PCMU" {
					t.Fatal(s.Formats[0].Name)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSDP([]byte(tc.sdp))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				var se *SDPError
				if tc.line != 0 && (!errors.As(err, &se) || se.Line != tc.line) {
					t.Fatalf("err = %v, want line %d", err, tc.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestMarshalSDP(t *testing.T) {
	s := SessionDesc{
		Username: "callgate", SessionID: 1700000000, Version: 3,
		Addr: netip.MustParseAddr("192.0.2.10"), Port: 40000,
		Formats: []Format{pcma(), te(101, "")}, Direction: SendRecv, Ptime: 20,
	}
	want := "v=0\r\n" +
		"o=callgate 1700000000 3 IN IP4 192.0.2.10\r\n" +
		"s=-\r\n" +
		"c=IN IP4 192.0.2.10\r\n" +
		"t=0 0\r\n" +
		"m=audio 40000 RTP/AVP 8 101\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-16\r\n" +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n"
	if got := string(s.Marshal()); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	// Round trip: what Marshal writes parses back to the same description.
	s.Formats[1].Fmtp = "0-16"
	s.Proto = "RTP/AVP"
	for _, d := range []Direction{SendRecv, SendOnly, RecvOnly, Inactive} {
		s.Direction = d
		got, err := ParseSDP(s.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip %v:\n got %+v\nwant %+v", d, got, s)
		}
	}

	v6 := SessionDesc{Addr: netip.MustParseAddr("2001:db8::5"), Port: 1, Direction: Inactive}
	if got := string(v6.Marshal()); !strings.Contains(got, "o=- 0 0 IN IP6 2001:db8::5\r\n") ||
		!strings.Contains(got, "c=IN IP6 2001:db8::5\r\n") || !strings.Contains(got, "m=audio 1 RTP/AVP 0\r\n") ||
		!strings.HasSuffix(got, "a=inactive\r\n") {
		t.Fatalf("ipv6 / empty formats:\n%s", got)
	}
}

func TestMarshalSDPWritesOnlyValidatedStrings(t *testing.T) {
	s := SessionDesc{
		Username: "evil\r\na=sendonly",
		Addr:     netip.Addr{}, Port: 99999,
		Formats: []Format{
			{PT: 0, Name: "PCMU\r\nb=x", Rate: 8000},
			{PT: 96, Name: "opus", Rate: 48000, Channels: 2, Fmtp: "a\r\nm=video 1 RTP/AVP 0"},
			{PT: 101, Name: "telephone-event", Rate: 8000, Fmtp: "0-15\r\nc=IN IP4 6.6.6.6"},
			{PT: 200, Name: "X", Rate: 8000},
			{PT: 96, Name: "dup", Rate: 8000},
		},
		Direction: Direction(42),
	}
	out := string(s.Marshal())
	want := "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=audio 0 RTP/AVP 0 96 101\r\n" +
		"a=rtpmap:96 opus/48000/2\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n" +
		"a=sendrecv\r\n"
	if out != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
}

func TestNegotiate(t *testing.T) {
	carrier := []Format{pcma(), pcmu(), te(101, "0-15")}
	audio, dtmf, err := Negotiate(carrier, []string{"PCMU", "PCMA"})
	if err != nil || audio != pcma() || dtmf == nil || *dtmf != te(101, "0-15") {
		t.Fatalf("%+v %+v %v", audio, dtmf, err)
	}
	// The offer's order wins over allowed's order.
	audio, _, _ = Negotiate(carrier, []string{"pcma", "pcmu"})
	if audio.PT != 8 {
		t.Fatal(audio)
	}
	audio, dtmf, err = Negotiate([]Format{{PT: 111, Name: "opus", Rate: 48000, Channels: 2},
		{PT: 110, Name: "telephone-event", Rate: 48000}, pcmu(), te(126, "")}, []string{"PCMU"})
	if err != nil || audio != pcmu() || dtmf == nil || dtmf.PT != 126 {
		t.Fatalf("%+v %+v %v", audio, dtmf, err)
	}
	audio, dtmf, err = Negotiate([]Format{pcmu()}, []string{"PCMU"})
	if err != nil || audio != pcmu() || dtmf != nil {
		t.Fatalf("%+v %+v %v", audio, dtmf, err)
	}
	if _, _, err := Negotiate([]Format{{PT: 9, Name: "G722", Rate: 8000}, te(101, "")}, []string{"PCMU", "PCMA"}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatal(err)
	}
	if _, _, err := Negotiate([]Format{{PT: 96, Name: "PCMU", Rate: 16000}}, []string{"PCMU"}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatal(err)
	}
	if _, _, err := Negotiate([]Format{{PT: 96, Name: ""}}, []string{""}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatal(err)
	}
}

func TestDirection(t *testing.T) {
	for d, want := range map[Direction]Direction{SendRecv: SendRecv, SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive} {
		if d.Answer() != want {
			t.Errorf("%v.Answer() = %v", d, d.Answer())
		}
		if got, ok := parseDirection(d.String()); !ok || got != d {
			t.Errorf("parse(%v) = %v", d, got)
		}
	}
}

func FuzzParseSDP(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "sdp", "*.sdp"))
	if err != nil || len(files) == 0 {
		f.Fatal("no seed corpus", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSDP(b)
		if err != nil {
			var se *SDPError
			if !errors.Is(err, ErrNoAudio) && !errors.As(err, &se) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if s.Port <= 0 || s.Port > 65535 || !s.Addr.IsValid() || len(s.Formats) == 0 {
			t.Fatalf("accepted an unusable description: %+v", s)
		}
		out := s.Marshal()
		if bytes.ContainsAny(out, "\x00") || bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
			t.Fatalf("marshal wrote stray bytes:\n%q", out)
		}
		s2, err := ParseSDP(out)
		if err != nil {
			t.Fatalf("re-parse of marshalled sdp: %v\n%s", err, out)
		}
		wantDir := s.Direction
		if s.Addr.IsUnspecified() { // Marshal writes RTP/AVP, where 0.0.0.0 means hold
			switch wantDir {
			case SendRecv:
				wantDir = SendOnly
			case RecvOnly:
				wantDir = Inactive
			}
		}
		if s2.Addr != s.Addr || s2.Port != s.Port || s2.Direction != wantDir || s2.Ptime != s.Ptime ||
			len(s2.Formats) != len(s.Formats) || s2.SessionID != s.SessionID || s2.Version != s.Version {
			t.Fatalf("round trip changed the description:\n%+v\n%+v", s, s2)
		}
		for i := range s.Formats {
			if s2.Formats[i].PT != s.Formats[i].PT {
				t.Fatalf("format order changed: %+v %+v", s.Formats, s2.Formats)
			}
		}
		out2 := s2.Marshal()
		s3, err := ParseSDP(out2)
		if err != nil {
			t.Fatalf("second re-parse: %v", err)
		}
		if out3 := s3.Marshal(); !bytes.Equal(out2, out3) {
			t.Fatalf("marshal not idempotent:\n%s\n%s", out2, out3)
		}
	})
}
