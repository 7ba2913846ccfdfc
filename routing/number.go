package routing

import "fmt"

// NormalizeE164 turns a number as carriers and users write it into E.164 with a leading
// "+": it accepts "+8613800000000", "008613800000000", "8613800000000", and visual
// separators (spaces, '-', '.', '(', ')'). It rejects everything else, so a result is
// always "+" followed by 8 to 15 digits, the first not 0, and is safe to write into a
// SIP header.
func NormalizeE164(raw string) (string, error) {
	var buf [16]byte
	buf[0] = '+'
	n := 1
	plus := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(buf) {
				return "", fmt.Errorf("%w: %q has more than 15 digits", ErrInvalidNumber, raw)
			}
			buf[n] = c
			n++
		case c == '+' && n == 1 && !plus:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", fmt.Errorf("%w: %q contains %q", ErrInvalidNumber, raw, c)
		}
	}
	digits := buf[1:n]
	if !plus && len(digits) > 2 && digits[0] == '0' && digits[1] == '0' {
		digits = digits[2:]
		copy(buf[1:], digits)
		n -= 2
	}
	if len(digits) < 8 {
		return "", fmt.Errorf("%w: %q has fewer than 8 digits", ErrInvalidNumber, raw)
	}
	if buf[1] == '0' {
		return "", fmt.Errorf("%w: %q has no country code", ErrInvalidNumber, raw)
	}
	return string(buf[:n]), nil
}
