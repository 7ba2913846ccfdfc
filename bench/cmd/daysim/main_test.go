package main

import (
	"strings"
	"testing"
)

// The same seed replays the same day; over it, ordering trunks by the scoreboard
// answers more calls than round-robin, above all where one supplier's numbers are
// labelled as spam, and wastes fewer INVITEs on the supplier that is down.
func TestScoringBeatsRoundRobin(t *testing.T) {
	const calls = 5000
	res := simulate(3, calls)
	again := simulate(3, calls)
	var a, b strings.Builder
	report(&a, res)
	report(&b, again)
	if a.String() != b.String() {
		t.Fatalf("one seed, two days:\n%s\n%s", a.String(), b.String())
	}
	scored, rr := res[0], res[1]
	if scored.calls != calls || rr.calls != calls {
		t.Fatalf("calls %d / %d, want %d", scored.calls, rr.calls, calls)
	}
	if scored.rate(scored.answered, scored.calls) <= rr.rate(rr.answered, rr.calls) {
		t.Errorf("scoring answered %d, round-robin %d: want more", scored.answered, rr.answered)
	}
	if scored.rate(scored.spamAnswered, scored.spamCalls) < rr.rate(rr.spamAnswered, rr.spamCalls)+0.05 {
		t.Errorf("in the spam window scoring answered %d/%d, round-robin %d/%d: want clearly more",
			scored.spamAnswered, scored.spamCalls, rr.spamAnswered, rr.spamCalls)
	}
	if scored.tries >= rr.tries {
		t.Errorf("scoring sent %d INVITEs, round-robin %d: want fewer (no retrying the down supplier)", scored.tries, rr.tries)
	}
	t.Logf("\n%s", a.String())
}
