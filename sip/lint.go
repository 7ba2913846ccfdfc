package sip

import (
	"bytes"
	"strconv"
)

// This file is the guard's syntax check of a message head (start line and header
// fields), run on raw bytes before sipgo parses them. It allocates nothing and looks
// only where sipgo v1.7.2 goes wrong on hostile or RFC 4475 input:
//
//   - sipgo drops a request it cannot parse without a word (and logs the whole payload
//     at ERROR), where RFC 3261 and RFC 4475 ask for 400, 416 or 505;
//   - sipgo keeps a bare CR or LF inside a header value (a header-injection vector when
//     the value is echoed), accepts several Content-Length fields (request smuggling on
//     streams) and a request without Content-Length on a stream (which it then cannot
//     frame).
//
// A problem is "definitive" when the message must be refused whatever sipgo makes of
// it. Any other problem is only a suspicion: the guard confirms it with sipgo's own
// parser and lets the message through if sipgo parses it, so the check can never be
// stricter than the parser callgate already runs (and never turns a parseable message
// from a carrier into a 400).

// headInfo is what scanHead learned about a message head.
type headInfo struct {
	request bool
	fields  int  // header fields; a folded field counts once
	clen    int  // Content-Length, -1 if absent
	tidy    bool // From or To parameters need tidyHead
	problem lintProblem
}

// lintProblem is why a message head is refused; code 0 means none.
type lintProblem struct {
	code       int
	reason     string
	definitive bool
}

func (p *lintProblem) note(code int, reason string, definitive bool) {
	switch {
	case p.definitive:
	case definitive:
		*p = lintProblem{code: code, reason: reason, definitive: true}
	case p.code == 0:
		*p = lintProblem{code: code, reason: reason}
	}
}

var crlf = []byte("\r\n")

// headEnd returns the length of the head of msg (through the blank line ending the
// header fields) and whether that blank line was found.
func headEnd(msg []byte) (int, bool) {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return i + 4, true
	}
	return len(msg), false
}

// scanHead checks the head of one message: its start line and header fields, up to
// maxFields fields (<= 0: no limit). head ends with the blank line or at the end of
// the data.
func scanHead(head []byte, maxFields int) headInfo {
	info := headInfo{clen: -1}
	if hasBareCRLF(head) {
		// sipgo keeps a lone CR or LF inside a header value: header injection when
		// the value is echoed, and never a line break of SIP (RFC 3261 §7).
		info.problem.note(400, "Bad Header Field", true)
	}
	line, rest := nextCRLFLine(head)
	if bytes.HasPrefix(line, []byte("SIP/")) {
		if !validStatusLine(line) {
			info.problem.note(400, "Bad Status Line", true)
		}
	} else {
		info.request = true
		if code, reason := checkRequestLine(line); code != 0 {
			info.problem.note(code, reason, false)
		}
	}
	for len(rest) > 0 && !info.problem.definitive {
		var field []byte
		field, rest = nextField(rest)
		if len(field) == 0 { // the blank line: end of the head
			break
		}
		info.fields++
		if maxFields > 0 && info.fields > maxFields {
			info.problem.note(400, "Too Many Header Fields", true)
			break
		}
		checkField(field, &info)
	}
	return info
}

// nextCRLFLine splits off the first CRLF-terminated line (the rest of b if none).
func nextCRLFLine(b []byte) (line, rest []byte) {
	if i := bytes.Index(b, crlf); i >= 0 {
		return b[:i], b[i+2:]
	}
	return b, nil
}

// nextField splits off one header field with its continuation lines, without the
// final CRLF. An empty field is the blank line ending the head.
func nextField(b []byte) (field, rest []byte) {
	end := 0
	for {
		i := bytes.Index(b[end:], crlf)
		if i < 0 {
			return b, nil
		}
		end += i
		if end == 0 || end+2 >= len(b) || (b[end+2] != ' ' && b[end+2] != '\t') {
			return b[:end], b[end+2:]
		}
		end += 2 // a continuation line follows
	}
}

// hasBareCRLF reports a CR or LF that is not part of a CRLF line break: sipgo keeps
// them inside header values.
func hasBareCRLF(b []byte) bool {
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			break
		}
		if i += off; i == 0 || b[i-1] != '\r' {
			return true
		}
		off = i + 1
	}
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '\r')
		if i < 0 {
			return false
		}
		if i += off; i+1 >= len(b) || b[i+1] != '\n' {
			return true
		}
		off = i + 1
	}
}

// fieldKind is a header field callgate's checks look at.
type fieldKind uint8

const (
	fkOther fieldKind = iota
	fkVia
	fkFrom
	fkTo
	fkCallID
	fkCSeq
	fkContentLength
	fkMaxForwards
)

// kindOf names a header field by its name, long or compact, in any case.
func kindOf(name []byte) fieldKind {
	switch len(name) {
	case 1:
		switch name[0] | 0x20 {
		case 'v':
			return fkVia
		case 'f':
			return fkFrom
		case 't':
			return fkTo
		case 'i':
			return fkCallID
		case 'l':
			return fkContentLength
		}
	case 2:
		if bytes.EqualFold(name, []byte("to")) {
			return fkTo
		}
	case 3:
		if bytes.EqualFold(name, []byte("via")) {
			return fkVia
		}
	case 4:
		if bytes.EqualFold(name, []byte("from")) {
			return fkFrom
		}
		if bytes.EqualFold(name, []byte("cseq")) {
			return fkCSeq
		}
	case 7:
		if bytes.EqualFold(name, []byte("call-id")) {
			return fkCallID
		}
	case 12:
		if bytes.EqualFold(name, []byte("max-forwards")) {
			return fkMaxForwards
		}
	case 14:
		if bytes.EqualFold(name, []byte("content-length")) {
			return fkContentLength
		}
	}
	return fkOther
}

// fieldName splits a field into its kind and the value after the colon; ok is false
// when the field has no colon or its name is not a token.
func fieldName(field []byte) (kind fieldKind, value []byte, ok bool) {
	colon := bytes.IndexByte(field, ':')
	if colon < 0 {
		return fkOther, nil, false
	}
	name := trimLWS(field[:colon])
	if !allToken(name) {
		return fkOther, nil, false
	}
	return kindOf(name), field[colon+1:], true
}

// hasSpecial reports a space, tab, quote or angle bracket: none may appear in a URI
// or a sent-by.
func hasSpecial(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '"', '<', '>':
			return true
		}
	}
	return false
}

func validStatusLine(line []byte) bool {
	// SIP-Version SP Status-Code SP Reason-Phrase
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || !validVersion(line[:sp]) {
		return false
	}
	rest := line[sp+1:]
	if len(rest) < 4 || rest[3] != ' ' || !allDigits(rest[:3]) || rest[0] < '1' || rest[0] > '6' {
		return false
	}
	return true
}

// checkRequestLine checks Method SP Request-URI SP SIP-Version (RFC 3261 §25.1): one
// space between elements, none at the end, no '<', '>' or spaces in the URI.
func checkRequestLine(line []byte) (int, string) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !allToken(line[:sp1]) {
		return 400, "Bad Request Line"
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return 400, "Bad Request Line"
	}
	uri, version := rest[:sp2], rest[sp2+1:]
	if !validVersion(version) {
		if bytes.HasPrefix(version, []byte("SIP/")) && !bytes.ContainsAny(version, " \t") {
			return 505, "Version Not Supported"
		}
		return 400, "Bad Request Line"
	}
	if !bytes.Equal(version, []byte("SIP/2.0")) {
		return 505, "Version Not Supported"
	}
	for _, c := range uri {
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' {
			return 400, "Bad Request-URI"
		}
	}
	colon := bytes.IndexByte(uri, ':')
	if colon <= 0 || !validScheme(uri[:colon]) {
		return 400, "Bad Request-URI"
	}
	if !knownScheme(uri[:colon]) {
		return 416, "Unsupported URI Scheme"
	}
	return 0, ""
}

func validVersion(v []byte) bool {
	if !bytes.HasPrefix(v, []byte("SIP/")) {
		return false
	}
	v = v[4:]
	dot := bytes.IndexByte(v, '.')
	return dot > 0 && dot < len(v)-1 && allDigits(v[:dot]) && allDigits(v[dot+1:])
}

func validScheme(s []byte) bool {
	for i, c := range s {
		alpha := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return len(s) > 0
}

// knownScheme reports the URI schemes callgate routes: sip, sips and tel.
func knownScheme(s []byte) bool {
	return bytes.EqualFold(s, []byte("sip")) || bytes.EqualFold(s, []byte("sips")) || bytes.EqualFold(s, []byte("tel"))
}

// checkField checks one header field (name, colon, value, continuation lines).
func checkField(field []byte, info *headInfo) {
	kind, raw, ok := fieldName(field)
	if !ok {
		info.problem.note(400, "Bad Header Field", false)
		return
	}
	value := trimLWS(raw)
	switch kind {
	case fkContentLength:
		if info.clen >= 0 {
			info.problem.note(400, "Multiple Content-Length", true)
			return
		}
		n, ok := smallNumber(value, 9)
		if !ok {
			info.problem.note(400, "Bad Content-Length", true)
			return
		}
		info.clen = n
	case fkCSeq:
		if !validCSeq(value) {
			info.problem.note(400, "Bad CSeq", false)
		}
	case fkMaxForwards:
		if n, ok := smallNumber(value, 9); !ok || n > 255 {
			info.problem.note(400, "Bad Max-Forwards", false)
		}
	case fkVia:
		if !validVia(value) {
			info.problem.note(400, "Bad Via", false)
		}
	case fkFrom, fkTo:
		if !validNameAddr(value) {
			info.problem.note(400, "Bad From or To", false)
		} else if p := paramsStart(field); p >= 0 && lwsOutsideQuotes(field[p:]) {
			info.tidy = true
		}
	case fkCallID:
		if len(value) == 0 {
			info.problem.note(400, "Bad Call-ID", false)
		}
	}
}

// topViaPort returns the port a stateless response to the head goes to, given the
// source port: the top Via's rport means the source port; else its sent-by port, else
// 5060 (RFC 3261 §18.2.2, RFC 3581 §4).
func topViaPort(head []byte, srcPort uint16) uint16 {
	_, rest := nextCRLFLine(head)
	for len(rest) > 0 {
		var field []byte
		field, rest = nextField(rest)
		if len(field) == 0 {
			break
		}
		kind, hop, ok := fieldName(field)
		if !ok || kind != fkVia {
			continue
		}
		if i := bytes.IndexByte(hop, ','); i >= 0 {
			hop = hop[:i]
		}
		sentBy, params, ok := viaSentBy(hop)
		if !ok {
			return 5060
		}
		rport := false
		splitOutsideQuotes(params, ';', func(p []byte) {
			name, _, _ := bytes.Cut(trimLWS(p), []byte("="))
			if bytes.EqualFold(trimLWS(name), []byte("rport")) {
				rport = true
			}
		})
		if rport {
			return srcPort
		}
		if c := bytes.LastIndexByte(sentBy, ':'); c >= 0 && !bytes.HasSuffix(sentBy, []byte("]")) {
			if p, err := strconv.Atoi(string(sentBy[c+1:])); err == nil && p > 0 && p < 65536 {
				return uint16(p)
			}
		}
		return 5060
	}
	return 5060
}

// statelessResponse builds the response to a request refused before parsing: the
// status line, then the request's Via, From, To, Call-ID and CSeq fields copied as they
// came (RFC 3261 §8.2.6.2), then Content-Length: 0. It returns nil when the head has
// no Via or CSeq to answer to, or a copied field holds a bare CR or LF.
func statelessResponse(head []byte, code int, reason string) []byte {
	var vias, others int
	_, rest := nextCRLFLine(head)
	for r := rest; len(r) > 0; {
		var field []byte
		field, r = nextField(r)
		if len(field) == 0 {
			break
		}
		switch kept := keptField(field); {
		case kept == "via":
			vias++
		case kept == "cseq":
			others++
		}
	}
	if vias == 0 || others == 0 {
		return nil
	}
	out := make([]byte, 0, 256+len(head))
	out = append(out, "SIP/2.0 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, reason...)
	out = append(out, "\r\n"...)
	for len(rest) > 0 {
		var field []byte
		field, rest = nextField(rest)
		if len(field) == 0 {
			break
		}
		if keptField(field) == "" {
			continue
		}
		if hasBareCRLF(field) {
			return nil
		}
		out = append(out, field...)
		out = append(out, "\r\n"...)
	}
	return append(out, "Content-Length: 0\r\n\r\n"...)
}

// keptField names the field if a response copies it from the request.
func keptField(field []byte) string {
	kind, _, _ := fieldName(field)
	switch kind {
	case fkVia:
		return "via"
	case fkCSeq:
		return "cseq"
	case fkFrom, fkTo, fkCallID:
		return "dialog"
	}
	return ""
}

// tidyHead rewrites, in place, the From and To parameters that sipgo v1.7.2 mis-parses:
// RFC 3261 allows LWS around ';' and '=' (RFC 4475 wsinv: `;\r\n  tag = 98asjd8`),
// and sipgo keeps it in the parameter names and values, so the tags are lost and an
// RFC 2543 transaction key cannot be built (sipgo answers 400 on its own). The LWS
// between parameters, outside quoted strings, is removed. tidyHead returns head
// shortened. scanHead says whether a head needs it (headInfo.tidy).
func tidyHead(head []byte) []byte {
	w := 0
	put := func(b []byte) { w += copy(head[w:], b) }
	line, rest := nextCRLFLine(head)
	put(line)
	put(crlf)
	for len(rest) > 0 {
		field, next := nextField(rest)
		start := len(head) - len(rest) // field's offset in the unwritten part
		end := start + len(field)
		if len(field) == 0 {
			put(crlf)
			rest = next
			break
		}
		if p := paramsStart(field); p >= 0 {
			put(head[start : start+p])
			inQuote := false
			for i := start + p; i < end; i++ {
				c := head[i]
				switch {
				case inQuote && c == '\\' && i+1 < end:
					head[w], head[w+1] = c, head[i+1]
					w += 2
					i++
					continue
				case c == '"':
					inQuote = !inQuote
				case !inQuote && isLWS(c):
					continue
				}
				head[w] = c
				w++
			}
		} else {
			put(head[start:end])
		}
		if end+1 < len(head) && head[end] == '\r' && head[end+1] == '\n' { // not yet overwritten: w <= end
			put(crlf)
		}
		rest = next
	}
	put(rest)
	return head[:w]
}

// lwsOutsideQuotes reports LWS in b outside quoted strings.
func lwsOutsideQuotes(b []byte) bool {
	inQuote := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && isLWS(c):
			return true
		}
	}
	return false
}

// paramsStart returns the offset in a From or To field where its parameters start
// (after the '>' of a name-addr, after the URI of an addr-spec), or -1 for any other
// field or a field without parameters.
func paramsStart(field []byte) int {
	kind, value, ok := fieldName(field)
	if !ok || kind != fkFrom && kind != fkTo {
		return -1
	}
	v := len(field) - len(value)
	for v < len(field) && isLWS(field[v]) {
		v++
	}
	if v < len(field) && field[v] == '"' {
		end := quotedEnd(field[v:])
		if end < 0 {
			return -1
		}
		v += end + 1
	}
	if gt := bytes.IndexByte(field[v:], '>'); bytes.IndexByte(field[v:], '<') >= 0 {
		if gt < 0 {
			return -1
		}
		v += gt + 1
	} else {
		for v < len(field) && !isLWS(field[v]) && field[v] != ';' {
			v++
		}
	}
	if bytes.IndexByte(field[v:], ';') < 0 {
		return -1
	}
	return v
}
