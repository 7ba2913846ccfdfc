package sip

import (
	"fmt"

	"callgate/routing"

	"github.com/emiago/sipgo/sip"
)

// The decisions onInvite takes before it touches the transaction, apart so that they
// can be run (and fuzzed) without one: FuzzInboundRequest drives raw bytes through
// sipgo's parser, validateRequest, classifyInvite and inboundCallOf to the router.

// inviteStep is what onInvite does with a valid INVITE.
type inviteStep int

const (
	stepRefuse   inviteStep = iota // answer statusFor(err)
	stepReInvite                   // in-dialog: onReInvite
	stepNewCall                    // a new call from a trunk
)

// classifyInvite decides what onInvite does with a valid INVITE: a re-INVITE (To has
// a tag), a refusal (the source is no trunk: 403, the same whatever was dialled), or a
// new call on trunk in.
func (e *Edge) classifyInvite(req *sip.Request) (step inviteStep, in *Trunk, err error) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		return stepReInvite, nil, nil
	}
	if in = e.sourceTrunk(req); in == nil {
		return stepRefuse, nil, ErrForbiddenSource
	}
	return stepNewCall, in, nil
}

// inboundCallOf is what the router is asked for a new call on trunk in: the caller
// and the dialled number, both normalised to E.164. A caller ID that is not a number
// (anonymous, withheld) leaves Caller empty and still reaches AXN bindings; a dialled
// number that is not one is an error (484). The Caller is set even then, for the
// call record.
func inboundCallOf(in *Trunk, req *sip.Request) (routing.InboundCall, error) {
	ic := routing.InboundCall{Trunk: in.Name()}
	if caller, err := routing.NormalizeE164(req.From().Address.User); err == nil {
		ic.Caller = caller
	}
	callee, err := routing.NormalizeE164(req.Recipient.User)
	if err != nil {
		return ic, fmt.Errorf("callee: %w", err)
	}
	ic.Callee = callee
	return ic, nil
}
