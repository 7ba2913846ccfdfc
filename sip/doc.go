// Package sip is callgate's SIP side, built on emiago/sipgo: the user agent and its
// listeners, carrier trunks (limits, source checks, registration), inbound and outbound
// legs, and the B2BUA that joins two legs into one call.
package sip
