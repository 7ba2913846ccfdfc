package signaling

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the protocol version this server speaks.
const Version = 1

// inMessage is any message from the page; fields are used by type.
type inMessage struct {
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	V        int    `json:"v,omitempty"`
	Token    string `json:"token,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	Agent    string `json:"agent,omitempty"`
	Password string `json:"password,omitempty"`
	SDP      string `json:"sdp,omitempty"`
	To       string `json:"to,omitempty"`
	Call     string `json:"call,omitempty"`
	Digits   string `json:"digits,omitempty"`
	Muted    *bool  `json:"muted,omitempty"`
	On       *bool  `json:"on,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Note     string `json:"note,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	// Record, on dial, asks for the call to be recorded (docs/signaling.md).
	Record bool `json:"record,omitempty"`
}

// parseMessage decodes one page message and checks what every type needs.
func parseMessage(b []byte) (inMessage, error) {
	var m inMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: not a JSON object: %v", ErrBadRequest, err)
	}
	if len(m.ID) > 64 {
		return m, fmt.Errorf("%w: id longer than 64 characters", ErrBadRequest)
	}
	need := func(field, v string) error {
		if v == "" {
			return fmt.Errorf("%w: %s needs %q", ErrBadRequest, m.Type, field)
		}
		return nil
	}
	switch m.Type {
	case "auth":
		if m.Token == "" && (m.Tenant == "" || m.Agent == "" || m.Password == "") {
			return m, fmt.Errorf("%w: auth needs a token, or tenant, agent and password", ErrBadRequest)
		}
	case "offer":
		return m, need("sdp", m.SDP)
	case "dial":
		return m, need("to", m.To)
	case "hangup":
		return m, need("call", m.Call)
	case "accept", "decline": // a callback ringing on the page (incoming.go)
		return m, need("call", m.Call)
	case "dtmf":
		if err := need("call", m.Call); err != nil {
			return m, err
		}
		if m.Digits == "" || len(m.Digits) > 32 {
			return m, fmt.Errorf("%w: dtmf needs 1 to 32 digits", ErrBadRequest)
		}
		for i := 0; i < len(m.Digits); i++ {
			if !isDigit(m.Digits[i]) {
				return m, fmt.Errorf("%w: %q is not a DTMF digit", ErrBadRequest, m.Digits[i])
			}
		}
	case "mute":
		if m.Muted == nil {
			return m, fmt.Errorf("%w: mute needs \"muted\"", ErrBadRequest)
		}
		return m, need("call", m.Call)
	case "hold":
		if m.On == nil {
			return m, fmt.Errorf("%w: hold needs \"on\"", ErrBadRequest)
		}
		return m, need("call", m.Call)
	case "transfer":
		if err := need("call", m.Call); err != nil {
			return m, err
		}
		return m, need("to", m.To)
	case "feedback":
		if err := need("call", m.Call); err != nil {
			return m, err
		}
		if len(m.Note) > 2000 {
			return m, fmt.Errorf("%w: note longer than 2000 bytes", ErrBadRequest)
		}
		return m, need("kind", m.Kind)
	case "logout":
	case "history":
		if m.Limit < 0 || m.Limit > 200 {
			return m, fmt.Errorf("%w: limit must be 0..200", ErrBadRequest)
		}
	case "":
		return m, fmt.Errorf("%w: message has no type", ErrBadRequest)
	default:
		return m, fmt.Errorf("%w: unknown type %q", ErrBadRequest, m.Type)
	}
	return m, nil
}

func isDigit(c byte) bool {
	return c >= '0' && c <= '9' || c == '*' || c == '#' || c >= 'A' && c <= 'D'
}

// Server messages.

type readyMsg struct {
	Type       string   `json:"type"`
	ID         string   `json:"id,omitempty"`
	V          int      `json:"v"`
	Agent      string   `json:"agent"`
	Tenant     string   `json:"tenant"`
	Seats      seatsMsg `json:"seats"`
	ICEServers []string `json:"ice_servers"`
}

type seatsMsg struct {
	Used  int `json:"used"`
	Total int `json:"total"`
}

type answerMsg struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	SDP  string `json:"sdp"`
}

type callMsg struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	Call   string `json:"call"`
	State  string `json:"state"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
	Billed *int64 `json:"billed,omitempty"`
	At     int64  `json:"at"`
}

// incomingMsg rings the page with a customer's callback.
type incomingMsg struct {
	Type   string `json:"type"`
	Call   string `json:"call"`
	From   string `json:"from"` // the customer
	To     string `json:"to"`   // the caller number the customer called
	Tenant string `json:"tenant"`
	RingMS int64  `json:"ring_ms,omitempty"` // how long it rings
	At     int64  `json:"at"`
}

// incomingCancelledMsg stops the ringing of a callback the agent did not answer.
type incomingCancelledMsg struct {
	Type   string `json:"type"`
	Call   string `json:"call"`
	Reason string `json:"reason"` // cancel, no_answer, shutdown
	At     int64  `json:"at"`
}

type errorMsg struct {
	Type    string `json:"type"`
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type okMsg struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

type historyMsg struct {
	Type  string        `json:"type"`
	ID    string        `json:"id,omitempty"`
	Calls []historyCall `json:"calls"`
}

type historyCall struct {
	Call     string `json:"call"`
	To       string `json:"to"`
	From     string `json:"from"`
	State    string `json:"state"`
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	SetupAt  int64  `json:"setup_at"`
	AnswerAt int64  `json:"answer_at,omitempty"`
	EndAt    int64  `json:"end_at,omitempty"`
	Billed   int64  `json:"billed"`
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
