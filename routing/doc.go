// Package routing makes callgate's call-setup decisions: number normalisation, the
// virtual-number lookup for inbound calls and, later, caller-number selection. It is pure
// logic over small interfaces and never imports sip, media, signaling or web.
package routing
