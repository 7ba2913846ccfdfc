package sip_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callgate/media"
	"callgate/routing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// writePromptWAV writes an 8 kHz mono PCM16 WAV of a 440 Hz tone.
func writePromptWAV(t *testing.T, seconds float64) string {
	t.Helper()
	n := int(8000 * seconds)
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(9000*math.Sin(2*math.Pi*440*float64(i)/8000))))
	}
	path := filepath.Join(t.TempDir(), "unbound.wav")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNoBindingAnnouncementThenStatus(t *testing.T) {
	prompt := writePromptWAV(t, 0.6)
	r := newRig(t, func(c *rigConfig) {
		c.noBinding = routing.NoBinding{Action: routing.NoBindingAnnounce, Status: 480, Announcement: prompt}
	})
	a := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := a.invite(ctx, r.edge.Addr("udp"), numA, "+8675500009999")
	if err != nil {
		t.Fatal(err)
	}
	var early bool
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == 183 && len(res.Body()) > 0 {
			early = true
		}
		return nil
	}})
	if code := responseCode(err); code != 480 || !early {
		t.Fatalf("caller got %d (early media %v), want 183 with SDP then 480", code, early)
	}
	var samples []int16
	for _, p := range a.packets() {
		for _, b := range p.payload {
			samples = append(samples, media.ALaw.Decode(b)) // the caller offered PCMA first
		}
	}
	if len(samples) < 4000 {
		t.Fatalf("heard %d samples of the announcement, want about 4800", len(samples))
	}
	mid := samples[len(samples)/2-800 : len(samples)/2+800]
	if l, o := media.ToneLevel(mid, 440, 8000), media.ToneLevel(mid, 1000, 8000); l < 2000 || l < 10*o {
		t.Fatalf("announcement tone level %.0f (1 kHz %.0f)", l, o)
	}
	if rec := r.record(); rec.SIPCode != 480 || rec.Reason != "no_route" || !rec.AnswerAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}
	if len(r.carrier.Invites()) != 0 {
		t.Fatal("an unbound call reached the carrier")
	}
}
