// Package signaling will hold the versioned websocket protocol between the agent page
// and callgate: auth, offer/answer, dial, hangup, DTMF, call events and incoming
// callbacks. It is empty until the browser work lands.
package signaling
