package sip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Request validation: every request sipgo parsed is checked here before any handler
// routes it (routes() wraps each handler in validated). Each failure is a RequestError
// whose kind statusFor maps to the answer RFC 3261 asks for; ACKs are never answered.
// The guard (guard.go, lint.go) has already refused what sipgo cannot parse.

// allowHeader is the Allow header of callgate's answers: the methods routes() serves.
const allowHeader = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"

// validated runs h only for requests that pass validateRequest, and refuses the rest.
func (e *Edge) validated(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if err := validateRequest(req); err != nil {
			e.refuse(req, tx, err)
			return
		}
		h(req, tx)
	}
}

// refuse answers a request with the status statusFor gives err, plus the header the
// status calls for (Unsupported, Accept, Allow). ACKs get no answer.
func (e *Edge) refuse(req *sip.Request, tx sip.ServerTransaction, err error) {
	if req.IsAck() {
		return
	}
	res := refusal(req, err, e.set.NoRouteStatus)
	if uerr := checkOutgoing(res); uerr != nil {
		// The request's own headers are copied into the answer; the guard refuses
		// control characters before parsing, so this is a last line only.
		e.log.Warn("refusal not sent", "err", uerr)
		return
	}
	if rerr := tx.Respond(res); rerr != nil {
		e.log.Debug("refuse request", "method", req.Method, "err", rerr)
	}
}

// refusal builds the answer to a request refused for err.
func refusal(req *sip.Request, err error, noRoute int) *sip.Response {
	code, reason := statusFor(err, noRoute)
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = "SIP/2.0" // never echo a foreign version (badvers)
	for _, h := range refusalHeaders(err) {
		res.AppendHeader(h)
	}
	return res
}

// refusalHeaders are the headers an answer to err must carry.
func refusalHeaders(err error) []sip.Header {
	var re *RequestError
	switch code, _ := statusFor(err, 404); code {
	case 420:
		if errors.As(err, &re) && len(re.Unsupported) > 0 {
			return []sip.Header{sip.NewHeader("Unsupported", strings.Join(re.Unsupported, ", "))}
		}
	case 415, 406:
		return []sip.Header{sip.NewHeader("Accept", "application/sdp")}
	case 405:
		return []sip.Header{sip.NewHeader("Allow", allowHeader)}
	}
	return nil
}

func badRequest(format string, args ...any) error {
	return &RequestError{Kind: ErrBadRequest, Detail: fmt.Sprintf(format, args...)}
}

// validateRequest checks a parsed request in the order of RFC 3261 §8.2 (version and
// mandatory headers first, then the Request-URI and To, then Require, then the body).
// It also repairs what sipgo v1.7.2 mis-parses: parameters of From and To written with
// spaces around '=' or ';' (RFC 4475 wsinv) keep those spaces in sipgo's keys and
// values, which loses the tags.
func validateRequest(req *sip.Request) error {
	if !strings.EqualFold(req.SipVersion, "SIP/2.0") {
		return &RequestError{Kind: ErrVersionNotSupported, Detail: req.SipVersion}
	}
	var n struct{ via, to, from, callID, cseq, maxFwd, clen, ctype int }
	for _, h := range req.Headers() {
		switch sip.HeaderToLower(h.Name()) {
		case "via":
			n.via++
		case "to":
			n.to++
		case "from":
			n.from++
		case "call-id":
			n.callID++
		case "cseq":
			n.cseq++
		case "max-forwards":
			n.maxFwd++
		case "content-length":
			n.clen++
		case "content-type":
			n.ctype++
		}
	}
	switch {
	case n.via == 0:
		return badRequest("no Via")
	case n.to != 1:
		return badRequest("%d To headers", n.to)
	case n.from != 1:
		return badRequest("%d From headers", n.from)
	case n.callID != 1:
		return badRequest("%d Call-ID headers", n.callID)
	case n.cseq != 1:
		return badRequest("%d CSeq headers", n.cseq)
	case n.maxFwd > 1, n.clen > 1, n.ctype > 1:
		return badRequest("repeated Max-Forwards, Content-Length or Content-Type")
	}
	// sipgo upper-cases the method of the request line but not CSeq's (RFC 4475
	// intmeth), so the comparison ignores case.
	if cseq := req.CSeq(); !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return badRequest("CSeq method %s differs from %s", cseq.MethodName, req.Method)
	}
	if req.CallID().Value() == "" {
		return badRequest("empty Call-ID")
	}
	if !knownURIScheme(req.Recipient.Scheme) {
		return &RequestError{Kind: ErrUnsupportedURIScheme, Detail: "Request-URI"}
	}
	if len(req.Recipient.Headers) > 0 {
		return badRequest("headers in the Request-URI")
	}
	from, to := req.From(), req.To()
	repairParams(&from.Params)
	repairParams(&to.Params)
	from.Address.Host = strings.TrimSpace(from.Address.Host)
	to.Address.Host = strings.TrimSpace(to.Address.Host)
	if !knownURIScheme(from.Address.Scheme) || !knownURIScheme(to.Address.Scheme) {
		return &RequestError{Kind: ErrUnsupportedURIScheme, Detail: "From or To"}
	}
	if tag, _ := from.Params.Get("tag"); tag == "" {
		return badRequest("From without tag")
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 {
		return &RequestError{Kind: ErrTooManyHops}
	}
	if !req.IsAck() && !req.IsCancel() {
		if tags, err := required(req); err != nil {
			return err
		} else if len(tags) > 0 {
			return &RequestError{Kind: ErrBadExtension, Detail: strings.Join(tags, ", "), Unsupported: tags}
		}
	}
	if req.IsInvite() {
		if req.Contact() == nil {
			return badRequest("INVITE without Contact") // RFC 3261 §8.1.1.8
		}
		return validateInviteBody(req)
	}
	return nil
}

// required lists the option tags of the Require headers; callgate supports none.
func required(req *sip.Request) ([]string, error) {
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for tag := range strings.SplitSeq(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" {
				continue
			}
			if !allToken([]byte(tag)) {
				return nil, badRequest("Require option tag %q", tag)
			}
			tags = append(tags, tag)
		}
	}
	return tags, nil
}

// validateInviteBody checks that an INVITE's body is SDP and that its Accept (if any)
// takes an SDP answer.
func validateInviteBody(req *sip.Request) error {
	if len(req.Body()) > 0 {
		ct := req.ContentType()
		if ct == nil {
			return badRequest("body without Content-Type")
		}
		if !strings.EqualFold(mediaType(ct.Value()), "application/sdp") {
			return &RequestError{Kind: ErrUnsupportedMediaType, Detail: mediaType(ct.Value())}
		}
		for _, h := range req.GetHeaders("Content-Encoding") {
			if v := strings.TrimSpace(h.Value()); v != "" && !strings.EqualFold(v, "identity") {
				return &RequestError{Kind: ErrUnsupportedMediaType, Detail: "Content-Encoding " + v}
			}
		}
	}
	accepts := req.GetHeaders("Accept")
	if len(accepts) == 0 {
		return nil
	}
	for _, h := range accepts {
		for t := range strings.SplitSeq(h.Value(), ",") {
			switch strings.ToLower(mediaType(t)) {
			case "application/sdp", "application/*", "*/*":
				return nil
			}
		}
	}
	return &RequestError{Kind: ErrNotAcceptable, Detail: "Accept has no application/sdp"}
}

// mediaType is the type/subtype of a Content-Type or Accept value, without parameters.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

func knownURIScheme(s string) bool {
	return strings.EqualFold(s, "sip") || strings.EqualFold(s, "sips") || strings.EqualFold(s, "tel")
}

// repairParams trims the spaces sipgo leaves around header parameter names and values
// and drops empty names (RFC 4475 wsinv: `;   tag    = 1918181833n`).
func repairParams(p *sip.HeaderParams) {
	clean := true
	for _, kv := range *p {
		if kv.K == "" || strings.TrimSpace(kv.K) != kv.K || strings.TrimSpace(kv.V) != kv.V {
			clean = false
			break
		}
	}
	if clean {
		return
	}
	out := make(sip.HeaderParams, 0, len(*p))
	for _, kv := range *p {
		kv.K, kv.V = strings.TrimSpace(kv.K), strings.TrimSpace(kv.V)
		if kv.K != "" {
			out = append(out, kv)
		}
	}
	*p = out
}

// knownMethod reports the SIP methods callgate knows but does not serve (answered 405
// with Allow); any other method no handler routes is answered 501.
func knownMethod(m sip.RequestMethod) bool {
	switch m {
	case sip.REGISTER, sip.SUBSCRIBE, sip.PUBLISH, sip.MESSAGE, sip.PRACK, sip.UPDATE, sip.REFER:
		return true
	}
	return false
}

// onUnknownMethod answers requests no handler serves.
func (e *Edge) onUnknownMethod(req *sip.Request, tx sip.ServerTransaction) {
	kind := ErrNotImplemented
	if knownMethod(req.Method) {
		kind = ErrMethodNotAllowed
	}
	e.refuse(req, tx, &RequestError{Kind: kind, Detail: string(req.Method)})
}

// Values callgate writes into SIP messages. Numbers reach headers only as E.164
// (safeNumber); other values (names, hosts from config) only if safeHeaderValue.

// safeNumber reports whether s is an E.164 number, "+" and 8 to 15 digits: the only
// form a number may take in a Request-URI, From, To, Refer-To or Referred-By.
func safeNumber(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return allDigits([]byte(s[1:]))
}

// safeHeaderValue reports whether s may be written into a SIP header value as it is:
// 1 to 256 printable ASCII characters, with no CR, LF or other control character
// (header injection, GHSA-chcx-pf5f-wxc7: sipgo writes values verbatim), and no quote
// or backslash (which would end or escape a quoted string).
func safeHeaderValue(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// checkOutgoing refuses a message about to be sent if its start line (the
// Request-URI) or any header holds a CR or LF: the last line against header
// injection, whatever the value's source. (Other control characters may appear
// escaped in a peer's quoted display name, RFC 4475 intmeth, and are echoed as they
// came.) It returns an error wrapping ErrUnsafeValue.
func checkOutgoing(msg interface {
	StartLine() string
	Headers() []sip.Header
}) error {
	if strings.ContainsAny(msg.StartLine(), "\r\n") {
		return fmt.Errorf("%w: start line", ErrUnsafeValue)
	}
	for _, h := range msg.Headers() {
		if strings.ContainsAny(h.Value(), "\r\n") || strings.ContainsAny(h.Name(), "\r\n: ") {
			return fmt.Errorf("%w: header %s", ErrUnsafeValue, strings.ToValidUTF8(h.Name(), "?"))
		}
	}
	return nil
}
