package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// writeToneWAV writes a 16-bit mono 48 kHz WAV of a sine at hz: Chromium's fake
// microphone.
func writeToneWAV(t *testing.T, path string, hz float64, seconds int) {
	t.Helper()
	const rate = 48000
	n := rate * seconds
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], rate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		s := int16(12000 * math.Sin(2*math.Pi*hz*float64(i)/rate))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// chromium starts headless Chromium with a fake microphone playing wav.
func chromium(t *testing.T, wav string) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: apt-get install chromium (.ci/run does this)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var logs []string
	events := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			mu.Lock()
			logs = append(logs, string(ev.Type)+": "+strings.Join(parts, " "))
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("page console:\n%s", strings.Join(logs, "\n"))
			mu.Unlock()
		}
	})
	return ctx
}

func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))
}

func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, sel, v))
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for _, a := range actions {
		if err := chromedp.Do(ctx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

const callState = `document.getElementById("call-state").dataset.state`

// TestBrowserCall is the product's main job in a real browser: the agent page in
// headless Chromium (microphone: a 1 kHz tone) logs in, dials, and the carrier (a sipgo
// UAS playing 440 Hz) hears 1 kHz while the page hears 440 Hz; keypad digits reach the
// carrier as RFC 4733; hang-up works from the page and from the carrier; records match.
func TestBrowserCall(t *testing.T) {
	r := newAgentRig(t, 2, "")
	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeToneWAV(t, wav, 1000, 30)
	ctx := chromium(t, wav)

	do(t, ctx, "log in", chromedp.Navigate(r.base+"?token="+agentToken), waitJS(`window.callgate && callgate.state === "ready"`))
	if seats := evalJS[string](t, ctx, `document.getElementById("seats").dataset.used + "/" + document.getElementById("seats").dataset.total`); seats != "1/2" {
		t.Fatalf("seats shown %q", seats)
	}
	do(t, ctx, "dial", setValue("#number", "+86 139 0000 0002"), chromedp.Click(chromedp.CSS("#dial")),
		waitJS(callState+` === "connected"`))
	eventually(t, "the carrier hears the page's 1 kHz microphone", func() bool {
		calls := r.carrier.Calls()
		if len(calls) != 1 {
			return false
		}
		return dominant(calls[0].Heard(), 1000, 440)
	})
	do(t, ctx, "the page hears the carrier's 440 Hz", waitJS(`Math.abs(callgate.remoteFrequencyPeak() - 440) < 30`))
	if path := os.Getenv("CALLGATE_SCREENSHOT"); path != "" { // docs/agent-page-call.png
		do(t, ctx, "screenshot size", chromedp.EmulateViewport(1200, 820), chromedp.Sleep(1500*time.Millisecond))
		if pic, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(path, pic, 0o644)
		}
	}
	do(t, ctx, "keypad", chromedp.Click(chromedp.CSS(`#keypad button[data-digit="5"]`)), chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(`#keypad button[data-digit="#"]`)))
	eventually(t, "keypad digits 5# at the carrier as RFC 4733", func() bool { return r.carrier.Calls()[0].Digits() == "5#" })

	id := evalJS[string](t, ctx, `callgate.currentCall.call`)
	do(t, ctx, "hang up from the page", chromedp.Click(chromedp.CSS("#hangup")), waitJS(callState+` === "ended"`))
	eventually(t, "BYE at the carrier", r.carrier.Calls()[0].GotBye)
	rec := r.record(t, id)
	if rec.SIPCode != 200 || rec.HangupBy != "agent" || rec.Agent != "alice" || rec.Callee != "+8613900000002" || rec.PacketsFromA < 20 {
		t.Fatalf("record %+v", rec)
	}

	do(t, ctx, "second call", setValue("#number", "139-0000-0003 ext. 5"), chromedp.Click(chromedp.CSS("#dial")))
	// Not a dialable number: the page must show why it was refused.
	do(t, ctx, "refused dial explained", waitJS(`document.getElementById("error").textContent.length > 0`))
	do(t, ctx, "third call", setValue("#number", "+8613900000003"), chromedp.Click(chromedp.CSS("#dial")),
		waitJS(callState+` === "connected"`))
	eventually(t, "carrier answered the third call", func() bool { return len(r.carrier.Calls()) == 2 })
	for _, c := range r.carrier.Calls() {
		if c.To == "+8613900000003" {
			if err := r.carrier.Hangup(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
	}
	do(t, ctx, "the carrier hangs up", waitJS(callState+` === "ended"`))
	if code := evalJS[string](t, ctx, `document.getElementById("call-code").dataset.reason`); code != "callee_bye" {
		t.Fatalf("page shows end reason %q", code)
	}
}

// TestCRMPageOnAnotherOrigin places the call from the example CRM page served on a
// different origin (allowed in config), through the SDK loaded from callgate.
func TestCRMPageOnAnotherOrigin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	crm := &http.Server{Handler: http.FileServer(http.Dir("../../docs/examples"))}
	go crm.Serve(ln)
	t.Cleanup(func() { crm.Close() })
	crmURL := "http://" + ln.Addr().String()
	r := newAgentRig(t, 2, "web:\n  allowed_origins: [\""+crmURL+"\"]\n")
	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeToneWAV(t, wav, 1000, 30)
	ctx := chromium(t, wav)

	do(t, ctx, "open the CRM", chromedp.Navigate(crmURL+"/crm.html?token="+agentToken+"&callgate="+strings.TrimSuffix(r.base, "/")),
		waitJS(`window.callgate && callgate.state === "ready"`),
		chromedp.Click(chromedp.CSS(`[data-testid="call-1"]`)),
		waitJS(`callgate.currentCall && callgate.currentCall.state === "connected"`),
		waitJS(`Math.abs(callgate.remoteFrequencyPeak() - 440) < 30`))
	eventually(t, "the carrier hears the CRM page's microphone", func() bool {
		calls := r.carrier.Calls()
		if len(calls) != 1 {
			return false
		}
		return dominant(calls[0].Heard(), 1000, 440)
	})
	do(t, ctx, "hang up from the CRM", chromedp.Click(chromedp.CSS(`[data-testid="call-1"]`)),
		waitJS(`document.querySelector('[data-testid="state-1"]').dataset.state === "ended"`))
	eventually(t, "BYE at the carrier", r.carrier.Calls()[0].GotBye)
}
