// Package signaling is the websocket protocol between the agent page (or any page
// using callgate.js) and callgate: authentication and seats, the WebRTC offer/answer
// of the agent's session-long browser leg, and call control (dial, hang-up, DTMF,
// mute, hold, feedback, history) with call events back. The protocol is documented in
// docs/signaling.md.
package signaling
