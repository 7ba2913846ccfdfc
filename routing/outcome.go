package routing

import "callgate/pool"

// OutcomeOf says how a finished outbound call ended, for Lease.Release: answered if
// the callee answered; unanswered if the callee's phone rang or the far end refused
// the call as a callee would (480 Temporarily Unavailable, 486 Busy Here, 600 Busy
// Everywhere, 603 Decline); otherwise not placed (setup failed in callgate or at
// the carrier, the number does not exist, the agent hung up before it rang), and the
// call's cap counts are given back.
func OutcomeOf(c pool.Call) Outcome {
	switch {
	case !c.AnswerAt.IsZero():
		return OutcomeAnswered
	case !c.RingAt.IsZero():
		return OutcomeUnanswered
	}
	switch c.SIPCode {
	case 480, 486, 600, 603:
		return OutcomeUnanswered
	}
	return OutcomeNotPlaced
}
