package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The part of the Janus API (1.1.x, over its websockets transport) and of the SIP
// plugin's (janus.plugin.sip) messages the load uses: create a session, attach the
// plugin, register as a guest (no REGISTER is sent), call with a JSEP offer, keep the
// session alive, hang up. Closing the websocket then ends the session.

// janusSubprotocol is the websocket subprotocol of the Janus API.
const janusSubprotocol = "janus-protocol"

// janusSIPPlugin is the plugin the agents attach.
const janusSIPPlugin = "janus.plugin.sip"

// janusRequest is a request to Janus.
type janusRequest struct {
	Janus       string     `json:"janus"`
	Transaction string     `json:"transaction"`
	SessionID   uint64     `json:"session_id,omitempty"`
	HandleID    uint64     `json:"handle_id,omitempty"`
	Plugin      string     `json:"plugin,omitempty"`
	Body        any        `json:"body,omitempty"`
	JSEP        *janusJSEP `json:"jsep,omitempty"`
}

// janusJSEP is an offer or answer. Trickle false says the SDP holds every candidate
// (the agents gather before they offer).
type janusJSEP struct {
	Type    string `json:"type"`
	SDP     string `json:"sdp"`
	Trickle *bool  `json:"trickle,omitempty"`
}

// sipRequest is the body of a message to the SIP plugin.
type sipRequest struct {
	Request  string `json:"request"`
	Type     string `json:"type,omitempty"`     // register: "guest"
	Username string `json:"username,omitempty"` // register: the agent's SIP URI
	URI      string `json:"uri,omitempty"`      // call: whom to call
}

func janusCreate(tx string) janusRequest { return janusRequest{Janus: "create", Transaction: tx} }

func janusAttach(tx string, session uint64) janusRequest {
	return janusRequest{Janus: "attach", Transaction: tx, SessionID: session, Plugin: janusSIPPlugin}
}

func janusKeepalive(tx string, session uint64) janusRequest {
	return janusRequest{Janus: "keepalive", Transaction: tx, SessionID: session}
}

// sipRegisterGuest registers identity (sip:user@host) without a registrar: the
// plugin then lets the handle call anyone.
func sipRegisterGuest(tx string, session, handle uint64, identity string) janusRequest {
	return janusRequest{Janus: "message", Transaction: tx, SessionID: session, HandleID: handle,
		Body: sipRequest{Request: "register", Type: "guest", Username: identity}}
}

// sipCall calls uri with the agent's offer, every candidate in it.
func sipCall(tx string, session, handle uint64, uri, offerSDP string) janusRequest {
	noTrickle := false
	return janusRequest{Janus: "message", Transaction: tx, SessionID: session, HandleID: handle,
		Body: sipRequest{Request: "call", URI: uri}, JSEP: &janusJSEP{Type: "offer", SDP: offerSDP, Trickle: &noTrickle}}
}

func sipHangup(tx string, session, handle uint64) janusRequest {
	return janusRequest{Janus: "message", Transaction: tx, SessionID: session, HandleID: handle,
		Body: sipRequest{Request: "hangup"}}
}

// janusMessage is a message from Janus: a response to a request (success, error,
// ack) or an event.
type janusMessage struct {
	Janus       string `json:"janus"`
	Transaction string `json:"transaction"`
	SessionID   uint64 `json:"session_id"`
	Sender      uint64 `json:"sender"`
	Data        struct {
		ID uint64 `json:"id"`
	} `json:"data"`
	Error *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
	PluginData struct {
		Plugin string   `json:"plugin"`
		Data   sipEvent `json:"data"`
	} `json:"plugindata"`
	JSEP   *janusJSEP `json:"jsep"`
	Reason string     `json:"reason"` // of a core "hangup"
}

// sipEvent is the SIP plugin's part of an event.
type sipEvent struct {
	SIP    string `json:"sip"`
	CallID string `json:"call_id"`
	Result *struct {
		Event  string `json:"event"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"result"`
	ErrorCode int    `json:"error_code"`
	Error     string `json:"error"`
}

// Errors a Janus exchange reports.
var (
	errJanusMessage = errors.New("not a Janus API message")
	errJanusClosed  = errors.New("janus websocket closed")
)

// janusError is an error Janus or its SIP plugin answered with.
type janusError struct {
	Plugin bool // the SIP plugin's error_code, else the core's
	Code   int
	Reason string
}

func (e *janusError) Error() string {
	if e.Plugin {
		return fmt.Sprintf("SIP plugin error %d: %s", e.Code, e.Reason)
	}
	return fmt.Sprintf("janus error %d: %s", e.Code, e.Reason)
}

// parseJanusMessage decodes one websocket message from Janus.
func parseJanusMessage(b []byte) (janusMessage, error) {
	var m janusMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %v", errJanusMessage, err)
	}
	if m.Janus == "" {
		return m, fmt.Errorf("%w: no \"janus\" field", errJanusMessage)
	}
	return m, nil
}

// err is the error the message carries: the core's, or the SIP plugin's; nil if none.
func (m janusMessage) err() error {
	if m.Janus == "error" {
		if m.Error != nil {
			return &janusError{Code: m.Error.Code, Reason: m.Error.Reason}
		}
		return &janusError{Reason: "error without a cause"}
	}
	if d := m.PluginData.Data; d.ErrorCode != 0 || d.Error != "" {
		return &janusError{Plugin: true, Code: d.ErrorCode, Reason: d.Error}
	}
	return nil
}

// sipEventName is the SIP plugin's event ("registered", "calling", "accepted",
// "hangup", …), or "" when the message is not one.
func (m janusMessage) sipEventName() string {
	if m.Janus != "event" || m.PluginData.Data.Result == nil {
		return ""
	}
	return m.PluginData.Data.Result.Event
}

// answerSDP is the SDP of the JSEP answer the message carries, or "".
func (m janusMessage) answerSDP() string {
	if m.JSEP == nil || !strings.EqualFold(m.JSEP.Type, "answer") {
		return ""
	}
	return m.JSEP.SDP
}

// endsCall reports whether the message ends an established call: the SIP plugin's
// hangup (a BYE, or our own hangup done), the PeerConnection closing, the handle
// detached or the session timing out.
func (m janusMessage) endsCall() bool {
	switch m.Janus {
	case "hangup", "detached", "timeout":
		return true
	}
	return m.sipEventName() == "hangup"
}
