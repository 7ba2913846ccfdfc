package main

import (
	"context"
	"path/filepath"
	"testing"

	"callgate/pool"

	"github.com/chromedp/chromedp"
)

const incomingShown = `!document.getElementById("incoming").hidden`

// TestBrowserCallback is a callback in a real browser: the agent page in headless
// Chromium (microphone: a 1 kHz tone) calls a customer, the customer calls the number
// back, the page shows the incoming banner with the customer's number, the test clicks
// Accept, and audio flows both ways on the page's session-long peer connection: the
// customer's carrier hears 1 kHz, the page's analyser hears the customer's 660 Hz.
func TestBrowserCallback(t *testing.T) {
	r := newCallbackRig(t, "{ring_timeout: 30s}")
	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeToneWAV(t, wav, 1000, 40)
	ctx := chromium(t, wav)

	do(t, ctx, "log in", chromedp.Navigate(r.base+"?token="+agentToken), waitJS(`window.callgate && callgate.state === "ready"`))
	do(t, ctx, "call the customer", setValue("#number", customer), chromedp.Click(chromedp.CSS("#dial")),
		waitJS(callState+` === "connected"`))
	do(t, ctx, "hang up", chromedp.Click(chromedp.CSS("#hangup")), waitJS(callState+` === "ended"`))

	oc := r.callBack(t)
	do(t, ctx, "the banner rings", waitJS(incomingShown))
	if from := evalJS[string](t, ctx, `document.getElementById("incoming-from").textContent`); from != customer {
		t.Fatalf("the banner shows %q, want the customer %s", from, customer)
	}
	id := evalJS[string](t, ctx, `document.getElementById("incoming").dataset.call`)
	do(t, ctx, "accept", chromedp.Click(chromedp.CSS("#incoming-accept")),
		waitJS(callState+` === "connected"`), waitJS(`document.getElementById("incoming").hidden`))
	if code := finalCode(t, oc); code != 200 {
		t.Fatalf("the customer got %d", code)
	}
	if peer := evalJS[string](t, ctx, `document.getElementById("call-peer").textContent`); peer != "From "+customer+" · to "+callerNumber {
		t.Fatalf("call card shows %q", peer)
	}
	eventually(t, "the customer hears the page's 1 kHz microphone", func() bool { return dominant(oc.Heard(), 1000, customerHz) })
	do(t, ctx, "the page hears the customer's 660 Hz", waitJS(`Math.abs(callgate.remoteFrequencyPeak() - 660) < 30`))

	if err := oc.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "the customer hangs up", waitJS(callState+` === "ended"`))
	if reason := evalJS[string](t, ctx, `document.getElementById("call-code").textContent`); reason == "" {
		t.Fatal("the page does not say how the callback ended")
	}
	if rec := r.record(t, id); rec.Direction != pool.Inbound || rec.Agent != "alice" || rec.SIPCode != 200 ||
		rec.HangupBy != "caller" || rec.PacketsToA < 10 || rec.PacketsFromA == 0 { // the customer heard 200 ms of the page
		t.Fatalf("record %+v", rec)
	}

	// A callback the agent declines: the banner goes, the customer gets the fallback.
	oc = r.callBack(t)
	do(t, ctx, "the banner rings again", waitJS(incomingShown))
	do(t, ctx, "decline", chromedp.Click(chromedp.CSS("#incoming-decline")), waitJS(`document.getElementById("incoming").hidden`))
	if code := finalCode(t, oc); code != 480 {
		t.Fatalf("declined callback: %d, want the default fallback's 480", code)
	}
}
