package main

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestJanusRequests(t *testing.T) {
	for _, tc := range []struct {
		req  janusRequest
		want string
	}{
		{janusCreate("t1"), `{"janus":"create","transaction":"t1"}`},
		{janusAttach("t2", 11), `{"janus":"attach","transaction":"t2","session_id":11,"plugin":"janus.plugin.sip"}`},
		{janusKeepalive("t3", 11), `{"janus":"keepalive","transaction":"t3","session_id":11}`},
		{sipRegisterGuest("t4", 11, 22, "sip:agent7@127.0.0.1"),
			`{"janus":"message","transaction":"t4","session_id":11,"handle_id":22,"body":{"request":"register","type":"guest","username":"sip:agent7@127.0.0.1"}}`},
		{sipCall("t5", 11, 22, "sip:+8613900000007@127.0.0.23:5090", "v=0\r\n"),
			`{"janus":"message","transaction":"t5","session_id":11,"handle_id":22,"body":{"request":"call","uri":"sip:+8613900000007@127.0.0.23:5090"},"jsep":{"type":"offer","sdp":"v=0\r\n","trickle":false}}`},
		{sipHangup("t6", 11, 22), `{"janus":"message","transaction":"t6","session_id":11,"handle_id":22,"body":{"request":"hangup"}}`},
	} {
		b, err := json.Marshal(tc.req)
		if err != nil || string(b) != tc.want {
			t.Errorf("got %s, %v\nwant %s", b, err, tc.want)
		}
	}
}

func TestParseJanusMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		event         string
		id            uint64
		answer        string
		ends          bool
		plugin, isErr bool
	}{
		{name: "created", in: `{"janus":"success","transaction":"t1","data":{"id":5875473656663182}}`, id: 5875473656663182},
		{name: "ack", in: `{"janus":"ack","session_id":1,"transaction":"t4"}`},
		{name: "registered", in: `{"janus":"event","session_id":1,"transaction":"t4","sender":2,"plugindata":{"plugin":"janus.plugin.sip","data":{"sip":"event","result":{"event":"registered","username":"agent7","register_sent":false}}}}`,
			event: "registered"},
		{name: "accepted", in: `{"janus":"event","session_id":1,"sender":2,"plugindata":{"plugin":"janus.plugin.sip","data":{"sip":"event","call_id":"abc","result":{"event":"accepted","username":"sip:+86139@127.0.0.23"}}},"jsep":{"type":"answer","sdp":"v=0"}}`,
			event: "accepted", answer: "v=0"},
		{name: "bye", in: `{"janus":"event","session_id":1,"sender":2,"plugindata":{"plugin":"janus.plugin.sip","data":{"sip":"event","result":{"event":"hangup","code":200,"reason":"Session Terminated"}}}}`,
			event: "hangup", ends: true},
		{name: "pc closed", in: `{"janus":"hangup","session_id":1,"sender":2,"reason":"DTLS alert"}`, ends: true},
		{name: "plugin error", in: `{"janus":"event","session_id":1,"transaction":"t5","sender":2,"plugindata":{"plugin":"janus.plugin.sip","data":{"sip":"event","error_code":447,"error":"Wrong state (register first)"}}}`,
			isErr: true, plugin: true},
		{name: "core error", in: `{"janus":"error","error":{"code":454,"reason":"Invalid Janus API request"}}`, isErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseJanusMessage([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if m.sipEventName() != tc.event || m.Data.ID != tc.id || m.answerSDP() != tc.answer || m.endsCall() != tc.ends {
				t.Errorf("event %q id %d answer %q ends %v", m.sipEventName(), m.Data.ID, m.answerSDP(), m.endsCall())
			}
			var je *janusError
			if got := m.err(); (got != nil) != tc.isErr || (got != nil && (!errors.As(got, &je) || je.Plugin != tc.plugin)) {
				t.Errorf("err = %v", got)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"transaction":"t1"}`, `{"janus":`} {
		if _, err := parseJanusMessage([]byte(bad)); !errors.Is(err, errJanusMessage) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestPCMUNegotiated(t *testing.T) {
	for _, tc := range []struct {
		name, sdp string
		ok        bool
	}{
		{"janus answer", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", true},
		{"static pt without rtpmap", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 0\n", true},
		{"pcmu second", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 8 0\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000/1\n", true},
		{"pcma only", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 8 101\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n", false},
		{"pt 0 remapped", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 0\na=rtpmap:0 opus/48000/2\n", false},
		{"audio rejected", "v=0\nm=audio 0 UDP/TLS/RTP/SAVPF 0\n", false},
		{"pcmu in video only", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 8\na=rtpmap:8 PCMA/8000\nm=video 9 UDP/TLS/RTP/SAVPF 0\na=rtpmap:0 PCMU/8000\n", false},
		{"no audio", "v=0\n", false},
	} {
		if err := pcmuNegotiated(tc.sdp); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// The two parsers of what Janus sends must not panic on anything.
func FuzzJanusMessage(f *testing.F) {
	f.Add([]byte(`{"janus":"event","plugindata":{"data":{"result":{"event":"accepted"}}},"jsep":{"type":"answer","sdp":"m=audio 9 X 0"}}`))
	f.Add([]byte(`{"janus":"error","error":{"code":454}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseJanusMessage(b); err == nil {
			_, _, _ = m.err(), m.sipEventName(), m.endsCall()
			_ = pcmuNegotiated(m.answerSDP())
		}
		_ = pcmuNegotiated(string(b))
	})
}
