package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

// dialTimes is one line of webrtcload's -dial-log.
type dialTimes struct {
	Callee         string
	Dial, Answered time.Time
	Step           int
	Invite, Answer time.Time // carrier B's INVITE in and 200 out, from the capture
}

// readDialLog reads "callee,dial unix ns,answered unix ns,step" lines.
func readDialLog(path string) (map[string]*dialTimes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]*dialTimes{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(p) != 4 {
			continue
		}
		d, err1 := strconv.ParseInt(p[1], 10, 64)
		a, err2 := strconv.ParseInt(p[2], 10, 64)
		st, err3 := strconv.Atoi(p[3])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		out[numberKey(p[0])] = &dialTimes{Callee: p[0], Dial: time.Unix(0, d), Answered: time.Unix(0, a), Step: st}
	}
	return out, sc.Err()
}

// numberKey compares numbers with or without their "+".
func numberKey(n string) string { return strings.TrimPrefix(n, "+") }

// matchCapture notes, for each dialled callee, when callgate's INVITE reached carrier
// B (port carrierPort) and when carrier B's 200 for it left; the first of each counts
// (retransmissions are ignored).
func matchCapture(pcap string, dials map[string]*dialTimes) (int, error) {
	n := 0
	err := benchkit.ReadPcapFile(pcap, func(p benchkit.UDPPacket) {
		n++
		m, ok := benchkit.ParseSIP(p.Payload)
		if !ok {
			return
		}
		switch {
		case p.Dst.Port() == carrierPort && m.Method == "INVITE":
			if d := dials[numberKey(m.RURIUser)]; d != nil && d.Invite.IsZero() {
				d.Invite = p.At
			}
		case p.Src.Port() == carrierPort && m.Status == 200 && m.CSeqMethod == "INVITE":
			if d := dials[numberKey(m.ToUser)]; d != nil && d.Answer.IsZero() {
				d.Answer = p.At
			}
		}
	})
	return n, err
}

// postDialDelays summarises callgate's part of the post-dial delay by step.
func postDialDelays(dials map[string]*dialTimes) map[int]postDialDelay {
	type acc struct{ toInv, fromAns, added []float64 }
	by := map[int]*acc{}
	unmatched := map[int]int{}
	for _, d := range dials {
		a := by[d.Step]
		if a == nil {
			a = &acc{}
			by[d.Step] = a
		}
		if d.Invite.IsZero() || d.Answer.IsZero() {
			unmatched[d.Step]++
			continue
		}
		ti, fa := ms(d.Invite.Sub(d.Dial)), ms(d.Answered.Sub(d.Answer))
		a.toInv = append(a.toInv, ti)
		a.fromAns = append(a.fromAns, fa)
		a.added = append(a.added, ti+fa)
	}
	out := map[int]postDialDelay{}
	for step, a := range by {
		out[step] = postDialDelay{ToInvite: benchkit.NewDist(a.toInv), FromAnswer: benchkit.NewDist(a.fromAns),
			Added: benchkit.NewDist(a.added), Unmatched: unmatched[step]}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// addPostDialDelay fills the PDD of the steps in out from the capture and dial log.
func addPostDialDelay(out []stepResult, pcap, dialLog string) error {
	dials, err := readDialLog(dialLog)
	if err != nil {
		return err
	}
	n, err := matchCapture(pcap, dials)
	if err != nil {
		return err
	}
	if n == 0 && len(dials) > 0 {
		return fmt.Errorf("%s holds no packets", pcap)
	}
	pdd := postDialDelays(dials)
	for i := range out {
		out[i].PDD = pdd[out[i].Calls]
	}
	return nil
}
