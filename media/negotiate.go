package media

import "strings"

// G711Rate is the clock rate of PCMU, PCMA and the telephone-event format
// that goes with them.
const G711Rate = 8000

// Negotiate chooses the answer's formats from an offer (RFC 3264 section
// 6.1): audio is the first format in offer order whose name is in allowed
// (compared case-insensitively, e.g. []string{"PCMU", "PCMA"}), at 8000 Hz
// for PCMU and PCMA, one channel; dtmf is a copy of the offer's
// telephone-event/8000 format, or nil if the offer has none. It returns
// ErrNoCommonCodec if no offered format is allowed.
//
// The payload types are the offerer's: an answer must use them, and the
// leg toward the offerer sends with them.
func Negotiate(offer []Format, allowed []string) (audio Format, dtmf *Format, err error) {
	found := false
	for _, f := range offer {
		if f.Channels > 1 {
			continue
		}
		if f.Name == NameTelephoneEvent {
			if dtmf == nil && f.Rate == G711Rate {
				d := f
				dtmf = &d
			}
			continue
		}
		if found || !nameAllowed(f.Name, allowed) {
			continue
		}
		if (f.Name == NamePCMU || f.Name == NamePCMA) && f.Rate != G711Rate {
			continue
		}
		audio, found = f, true
	}
	if !found {
		return Format{}, nil, ErrNoCommonCodec
	}
	return audio, dtmf, nil
}

func nameAllowed(name string, allowed []string) bool {
	if name == "" {
		return false
	}
	for _, a := range allowed {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}
