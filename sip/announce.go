package sip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"callgate/media"

	sipmsg "github.com/emiago/sipgo/sip"
)

// announcement is a prompt decoded to 8 kHz linear samples.
type announcement []int16

// loadAnnouncement reads a WAV prompt: 8 kHz mono, 16-bit PCM, μ-law or A-law.
func loadAnnouncement(path string) (announcement, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseWAV(b)
}

var errBadWAV = errors.New("not an 8 kHz mono PCM16/μ-law/A-law WAV")

func parseWAV(b []byte) (announcement, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errBadWAV
	}
	var format, channels, bits uint16
	var rate uint32
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if size > len(body) {
			size = len(body)
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, errBadWAV
			}
			format, channels = binary.LittleEndian.Uint16(body), binary.LittleEndian.Uint16(body[2:])
			rate, bits = binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
		case "data":
			if rate != 8000 || channels != 1 {
				return nil, fmt.Errorf("%w: %d Hz, %d channels", errBadWAV, rate, channels)
			}
			switch {
			case format == 1 && bits == 16:
				out := make(announcement, len(body)/2)
				for i := range out {
					out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
				}
				return out, nil
			case format == 7 || format == 6: // μ-law, A-law
				law := media.MuLaw
				if format == 6 {
					law = media.ALaw
				}
				out := make(announcement, len(body))
				for i, v := range body {
					out[i] = law.Decode(v)
				}
				return out, nil
			}
			return nil, fmt.Errorf("%w: format %d, %d bits", errBadWAV, format, bits)
		}
		off += 8 + size + size&1
	}
	return nil, errBadWAV
}

// announcementFor loads (once) and returns the prompt at path.
func (e *Edge) announcementFor(path string) (announcement, error) {
	if v, ok := e.prompts.Load(path); ok {
		return v.(announcement), nil
	}
	a, err := loadAnnouncement(path)
	if err != nil {
		return nil, err
	}
	e.prompts.Store(path, a)
	return a, nil
}

// announce plays a prompt to the caller as early media (183 with SDP), so the call is
// never answered or billed; the caller of announce then sends the final status.
func (e *Edge) announce(ctx context.Context, c *call, req *sipmsg.Request, path string) error {
	prompt, err := e.announcementFor(path)
	if err != nil {
		return fmt.Errorf("announcement %s: %w", path, err)
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	audio, _, err := media.Negotiate(offer.Formats, c.inTrunk.cfg.Codecs)
	if err != nil {
		return err
	}
	law, _ := media.LawOf(audio)
	if c.rtpA == nil {
		if c.rtpA, err = media.NewLeg(e.ports, e.set.MediaBind, media.WithRelay(e.relay)); err != nil {
			return err
		}
	}
	c.rtpA.SetRemote(remoteOf(offer))
	answer := media.SessionDesc{Username: "callgate", SessionID: uint64(time.Now().UnixNano()) >> 2, Version: 1,
		Addr: e.set.MediaPublic, Port: int(c.rtpA.LocalAddr().Port()), Formats: []media.Format{audio},
		Direction: media.SendOnly, Ptime: 20}.Marshal()
	if err := c.a.Respond(183, "Session Progress", answer, sipmsg.NewHeader("Content-Type", "application/sdp")); err != nil {
		return err
	}
	pkt := make([]byte, media.HeaderSize+160)
	h := media.Header{PayloadType: audio.PT, SSRC: c.rtpA.SSRC()}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i*160 < len(prompt); i++ {
		h.SequenceNumber, h.Timestamp, h.Marker = uint16(i), uint32(i*160), i == 0
		if _, err := h.MarshalTo(pkt); err != nil {
			return err
		}
		chunk := prompt[i*160 : min((i+1)*160, len(prompt))]
		payload := pkt[media.HeaderSize:]
		for j := range payload {
			payload[j] = law.Silence()
			if j < len(chunk) {
				payload[j] = law.Encode(chunk[j])
			}
		}
		if err := c.rtpA.WriteRTP(pkt); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
