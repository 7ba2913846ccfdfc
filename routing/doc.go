// Package routing makes callgate's call-setup decisions: the virtual-number lookup
// for inbound calls, and for agents' outbound calls the callee analysis (any written
// form to E.164 with city, province and carrier), the do-not-call check and the
// choice and lease of the caller number under the tenant's strategy, frequency caps,
// escalation and number health. It is pure logic over small interfaces and never
// imports sip, media, signaling or web; the store it decides over lives in pool.
package routing
