package sip

import (
	"errors"
	"net/netip"
	"testing"

	"callgate/media"
)

func TestCallbackNegotiationAnswersWithTheAgentsCodec(t *testing.T) {
	offer := func(fs ...media.Format) []byte {
		return media.SessionDesc{Username: "a", SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000,
			Formats: fs, Direction: media.SendRecv, Ptime: 20}.Marshal()
	}
	pcma := media.Format{PT: 8, Name: "PCMA", Rate: 8000}
	pcmu := media.Format{PT: 0, Name: "PCMU", Rate: 8000}
	te := media.Format{PT: 101, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}
	browserTE := &media.Format{PT: 126, Name: "telephone-event", Rate: 8000}

	n, err := callbackNegotiation(offer(pcma, pcmu, te), []string{"PCMU", "PCMA"}, pcmu, browserTE, 7)
	if err != nil {
		t.Fatal(err)
	}
	if n.audioA.Name != "PCMU" || n.audioA.PT != 0 || n.dtmfA == nil || n.dtmfA.PT != 101 || n.audioB != pcmu || n.dtmfB != browserTE {
		t.Fatalf("negotiation %+v", n)
	}
	ans, err := media.ParseSDP(n.sdpForA(netip.MustParseAddrPort("127.0.0.1:5000"), media.SendRecv))
	if err != nil || len(ans.Formats) != 2 || ans.Formats[0].Name != "PCMU" || ans.Formats[0].PT != 0 || ans.Formats[1].PT != 101 {
		t.Fatalf("answer to the caller %+v %v: want PCMU 0 and the caller's telephone-event 101", ans.Formats, err)
	}

	for _, tc := range []struct {
		name    string
		body    []byte
		allowed []string
		want    error
	}{
		{"no offer", nil, []string{"PCMU"}, ErrNoOffer},
		{"garbage", []byte("v=0\r\nm=audio x\r\n"), []string{"PCMU"}, ErrBadSDP},
		{"caller lacks the browser's codec", offer(pcma, te), []string{"PCMU", "PCMA"}, media.ErrNoCommonCodec},
		{"trunk forbids the browser's codec", offer(pcmu), []string{"PCMA"}, media.ErrNoCommonCodec},
	} {
		if _, err := callbackNegotiation(tc.body, tc.allowed, pcmu, nil, 1); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
