package sip

import "bytes"

// Byte-level token, number and header-value grammar used by the guard's syntax check
// of a message head (lint.go): RFC 3261 token, LWS, CSeq, Via and name-addr rules,
// allocation-free over the raw bytes.

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimLWS(b []byte) []byte {
	for len(b) > 0 && isLWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isLWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isToken reports RFC 3261 token characters.
func isToken(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

func allToken(b []byte) bool {
	for _, c := range b {
		if !isToken(c) {
			return false
		}
	}
	return len(b) > 0
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// smallNumber parses 1*DIGIT of at most maxDigits digits (leading zeros aside).
func smallNumber(b []byte, maxDigits int) (int, bool) {
	if !allDigits(b) {
		return 0, false
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	if len(b) > maxDigits {
		return 0, false
	}
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n, true
}

// validCSeq checks 1*DIGIT LWS Method with the number below 2**31.
func validCSeq(v []byte) bool {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, ok := smallNumber(v[:i], 10)
	if !ok || n > 1<<31-1 || i == len(v) || !isLWS(v[i]) {
		return false
	}
	return allToken(trimLWS(v[i:]))
}

// validVia checks each comma-separated via-parm: SIP / version / transport, a sent-by
// and ;params, allowing LWS around the separators (RFC 3261 §25.1 SLASH, SEMI, EQUAL).
func validVia(v []byte) bool {
	ok := true
	splitOutsideQuotes(v, ',', func(hop []byte) {
		if ok && !validViaHop(trimLWS(hop)) {
			ok = false
		}
	})
	return ok
}

func validViaHop(hop []byte) bool {
	sentBy, params, ok := viaSentBy(hop)
	if !ok || len(sentBy) == 0 || hasSpecial(sentBy) || bytes.IndexByte(sentBy, ',') >= 0 {
		return false
	}
	return params == nil || validParams(params)
}

// viaSentBy splits a via-parm after its sent-protocol (three tokens separated by '/')
// into the sent-by and the ;params (nil if none).
func viaSentBy(hop []byte) (sentBy, params []byte, ok bool) {
	for i := 0; i < 3; i++ {
		hop = trimLWS(hop)
		j := 0
		for j < len(hop) && isToken(hop[j]) {
			j++
		}
		if j == 0 {
			return nil, nil, false
		}
		hop = trimLWS(hop[j:])
		if i < 2 {
			if len(hop) == 0 || hop[0] != '/' {
				return nil, nil, false
			}
			hop = hop[1:]
		}
	}
	sentBy = hop
	if semi := bytes.IndexByte(hop, ';'); semi >= 0 {
		sentBy, params = hop[:semi], hop[semi:]
	}
	return trimLWS(sentBy), params, true
}

// validParams checks *( SEMI generic-param ): no empty parameter, a token name, and a
// value that is a token, host or quoted string.
func validParams(p []byte) bool {
	ok := true
	first := true
	splitOutsideQuotes(p, ';', func(param []byte) {
		if first { // the empty piece before the leading ';'
			first = false
			return
		}
		param = trimLWS(param)
		name, value, hasValue := bytes.Cut(param, []byte("="))
		name = trimLWS(name)
		if !allToken(name) {
			ok = false
			return
		}
		if hasValue {
			value = trimLWS(value)
			if len(value) == 0 || value[0] != '"' && hasSpecial(value) {
				ok = false
			}
		}
	})
	return ok
}

// validNameAddr checks a From or To value: name-addr ([display-name] <addr-spec>) or a
// bare addr-spec, then ;params. The display name is tokens or one quoted string; the
// URI inside <> has no spaces at either end; quotes are balanced.
func validNameAddr(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	var display []byte
	rest := v
	if v[0] == '"' {
		end := quotedEnd(v)
		if end < 0 {
			return false
		}
		display, rest = nil, trimLWS(v[end+1:])
		if len(rest) == 0 || rest[0] != '<' {
			return false
		}
	}
	lt := bytes.IndexByte(rest, '<')
	if lt < 0 {
		// addr-spec: no spaces in the URI, which ends at the first ';'
		uri := rest
		semi := bytes.IndexByte(rest, ';')
		if semi >= 0 {
			uri = rest[:semi]
		}
		uri = trimLWS(uri)
		if len(uri) == 0 || hasSpecial(uri) {
			return false
		}
		return semi < 0 || validParams(rest[semi:])
	}
	if display == nil && lt > 0 {
		display = trimLWS(rest[:lt])
		for len(display) > 0 {
			i := 0
			for i < len(display) && isToken(display[i]) {
				i++
			}
			if i == 0 {
				return false
			}
			display = trimLWS(display[i:])
		}
	}
	inner := rest[lt+1:]
	gt := bytes.IndexByte(inner, '>')
	if gt <= 0 || isLWS(inner[0]) || isLWS(inner[gt-1]) || hasSpecial(inner[:gt]) {
		return false
	}
	after := trimLWS(inner[gt+1:])
	if len(after) == 0 {
		return true
	}
	if after[0] != ';' {
		return false
	}
	return validParams(after)
}

// quotedEnd returns the index of the quote closing the quoted string that starts at
// q[0], honouring backslash escapes, or -1.
func quotedEnd(q []byte) int {
	for i := 1; i < len(q); i++ {
		switch q[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// splitOutsideQuotes calls f with each piece of b between separators sep that are not
// inside a quoted string or <>.
func splitOutsideQuotes(b []byte, sep byte, f func([]byte)) {
	start, angle := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			end := quotedEnd(b[i:])
			if end < 0 {
				f(b[start:])
				return
			}
			i += end
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == sep && !angle:
			f(b[start:i])
			start = i + 1
		}
	}
	f(b[start:])
}
