package routing

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// This file is callee analysis: a number as an agent or a business system wrote it
// becomes E.164 with its line type, place and carrier, or a NumberError that says why
// it cannot be dialled.

// DefaultRegion is the region national numbers are read in when a tenant sets none.
const DefaultRegion = "CN"

// Limits on numbers as written.
const (
	maxInputBytes = 64 // longer input is refused before parsing
	maxDigits     = 17 // E.164 has at most 15 digits, plus an international prefix
	minDigits     = 3
)

// LineType is the kind of line a number belongs to, as libphonenumber classifies it.
type LineType string

// The line types Analyze accepts (premium-rate numbers, pagers, voicemail and
// unclassified numbers are refused).
const (
	LineMobile           LineType = "mobile"
	LineFixed            LineType = "fixed_line"
	LineFixedOrMobile    LineType = "fixed_line_or_mobile"
	LineTollFree         LineType = "toll_free"
	LineSharedCost       LineType = "shared_cost"
	LineVoIP             LineType = "voip"
	LinePersonal         LineType = "personal_number"
	LineUniversalAccess  LineType = "uan"
	lineRefusedPremium   LineType = "premium_rate"
	lineRefusedPager     LineType = "pager"
	lineRefusedVoicemail LineType = "voicemail"
)

var lineTypes = map[phonenumbers.PhoneNumberType]LineType{
	phonenumbers.MOBILE:               LineMobile,
	phonenumbers.FIXED_LINE:           LineFixed,
	phonenumbers.FIXED_LINE_OR_MOBILE: LineFixedOrMobile,
	phonenumbers.TOLL_FREE:            LineTollFree,
	phonenumbers.SHARED_COST:          LineSharedCost,
	phonenumbers.VOIP:                 LineVoIP,
	phonenumbers.PERSONAL_NUMBER:      LinePersonal,
	phonenumbers.UAN:                  LineUniversalAccess,
	phonenumbers.PREMIUM_RATE:         lineRefusedPremium,
	phonenumbers.PAGER:                lineRefusedPager,
	phonenumbers.VOICEMAIL:            lineRefusedVoicemail,
}

// Callee is an analysed callee number.
type Callee struct {
	// E164 is the number in E.164, e.g. "+8675512345678": safe in a SIP header.
	E164 string
	// Region is the number's ISO 3166 region, e.g. "CN".
	Region string
	Type   LineType
	Place
	// Carrier is the network the number was issued by (numbers may have been ported
	// since), in English and Chinese; empty for fixed lines.
	Carrier   string
	CarrierZH string

	cityKeys, provinceKeys []string
}

// Reasons a number is refused, as NumberError.Reason.
const (
	ReasonEmpty         = "empty"            // nothing but separators
	ReasonCharacter     = "bad_character"    // letters, extensions, URI syntax, …
	ReasonTooShort      = "too_short"        //
	ReasonTooLong       = "too_long"         //
	ReasonCountryCode   = "bad_country_code" // no such country calling code
	ReasonRegion        = "bad_region"       // the tenant's default region is unknown
	ReasonUnassigned    = "unassigned"       // right length, but no such number range
	ReasonNotDialable   = "not_dialable"     // premium rate, pager, voicemail
	ReasonNotUnderstood = "not_understood"   // libphonenumber could not read it
)

// NumberError says why a number cannot be dialled. It wraps ErrInvalidNumber.
type NumberError struct {
	Input  string // as written, at most 64 bytes
	Reason string // one of the Reason… codes
	Detail string // for people
}

// Error returns `invalid number "…": detail`.
func (e *NumberError) Error() string {
	return fmt.Sprintf("%v %q: %s", ErrInvalidNumber, e.Input, e.Detail)
}

// Unwrap returns ErrInvalidNumber.
func (e *NumberError) Unwrap() error { return ErrInvalidNumber }

func numberError(input, reason, format string, args ...any) *NumberError {
	if len(input) > maxInputBytes {
		n := maxInputBytes
		for n > 0 && !utf8.RuneStart(input[n]) {
			n--
		}
		input = input[:n]
	}
	return &NumberError{Input: input, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Analyzer reads callee numbers with libphonenumber's metadata, geocoding and
// carrier data. It is safe for concurrent use.
type Analyzer struct {
	cache [cacheShards]calleeCache
	// nationalPrefix holds, per country calling code, the pattern of what Parse
	// strips from the start of a national number (a national prefix, a carrier
	// code); fastParse leaves such numbers to Parse. Nil turns fastParse off.
	nationalPrefix map[int]*regexp.Regexp
}

// The analyser keeps the last numbers it analysed: libphonenumber spends tens of
// microseconds on one (pattern matching), a cache hit well under one.
const (
	cacheShards   = 16
	cachePerShard = 4096
)

// calleeCache maps a cleaned number and region to its analysis.
type calleeCache struct {
	mu sync.Mutex
	m  map[string]Callee
}

func (a *Analyzer) shard(key string) *calleeCache {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &a.cache[h%cacheShards]
}

func (a *Analyzer) cached(key string) (Callee, bool) {
	sh := a.shard(key)
	sh.mu.Lock()
	c, ok := sh.m[key]
	sh.mu.Unlock()
	return c, ok
}

func (a *Analyzer) remember(key string, c Callee) {
	sh := a.shard(key)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[string]Callee, cachePerShard)
	}
	if len(sh.m) >= cachePerShard {
		for k := range sh.m { // evict one at random
			delete(sh.m, k)
			break
		}
	}
	sh.m[key] = c
	sh.mu.Unlock()
}

// NewAnalyzer returns an analyser with the geocoding and carrier data loaded (the
// first lookup costs a few hundred milliseconds: better at start than in a call).
func NewAnalyzer() *Analyzer {
	a := &Analyzer{nationalPrefix: map[int]*regexp.Regexp{}}
	if coll, err := phonenumbers.MetadataCollection(); err == nil {
		for _, md := range coll.GetMetadata() {
			cc := int(md.GetCountryCode())
			main := phonenumbers.GetRegionCodeForCountryCode(cc)
			if md.GetId() != main && !(md.GetId() == "001" && main == "001") {
				continue
			}
			p := md.GetNationalPrefixForParsing()
			if p == "" {
				p = md.GetNationalPrefix()
			}
			if p == "" {
				a.nationalPrefix[cc] = nil
				continue
			}
			if re, err := regexp.Compile("^(?:" + p + ")"); err == nil {
				a.nationalPrefix[cc] = re
			}
		}
	}
	if n, err := phonenumbers.Parse("+8613800138000", DefaultRegion); err == nil {
		for _, lang := range []string{"en", "zh"} {
			_, _ = phonenumbers.GetGeocodingForNumber(n, lang)
			_, _ = phonenumbers.GetCarrierForNumber(n, lang)
		}
	}
	return a
}

// Normalize returns raw as E.164, read in region when written nationally ("0755
// 1234 5678", "138 0013 8000" in CN). It accepts "+", "00" and bare country-code
// prefixes, spaces, dashes, dots, brackets and full-width digits, and refuses what is
// not a dialable number with a *NumberError.
func (a *Analyzer) Normalize(raw, region string) (string, error) {
	clean, region, err := prepare(raw, region)
	if err != nil {
		return "", err
	}
	if c, ok := a.cached(region + "|" + clean); ok {
		return c.E164, nil
	}
	n, _, err := a.parse(raw, clean, region)
	if err != nil {
		return "", err
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// Analyze normalises raw as Normalize does and resolves its line type, city,
// province and carrier.
func (a *Analyzer) Analyze(raw, region string) (Callee, error) {
	clean, region, err := prepare(raw, region)
	if err != nil {
		return Callee{}, err
	}
	key := region + "|" + clean
	if c, ok := a.cached(key); ok {
		return c, nil
	}
	n, typ, err := a.parse(raw, clean, region)
	if err != nil {
		return Callee{}, err
	}
	c := Callee{E164: phonenumbers.Format(n, phonenumbers.E164), Region: phonenumbers.GetRegionCodeForNumber(n), Type: typ}
	c.Place = a.locate(n, c.Region)
	c.Carrier, _ = phonenumbers.GetCarrierForNumber(n, "en")
	c.CarrierZH, _ = phonenumbers.GetCarrierForNumber(n, "zh")
	c.cityKeys, c.provinceKeys = c.CityKeys(), c.ProvinceKeys()
	a.remember(key, c)
	return c, nil
}

// Locate returns the place of an E.164 number (a caller number's home), or the zero
// Place if the number does not parse or has none.
func (a *Analyzer) Locate(e164 string) Place {
	n, err := phonenumbers.Parse(e164, DefaultRegion)
	if err != nil {
		return Place{}
	}
	return a.locate(n, phonenumbers.GetRegionCodeForNumber(n))
}

func (a *Analyzer) locate(n *phonenumbers.PhoneNumber, region string) Place {
	en, _ := phonenumbers.GetGeocodingForNumber(n, "en")
	zh, _ := phonenumbers.GetGeocodingForNumber(n, "zh")
	countryEN, countryZH := a.countryNames(region)
	var p Place
	p.City, p.Province = parseEnglishPlace(en, countryEN)
	if zh != en {
		p.CityZH, p.ProvinceZH = parseChinesePlace(zh, countryZH)
	}
	return p
}

// countryNames returns how geocoding describes a number of region known only by its
// country, in English and Chinese.
func (a *Analyzer) countryNames(region string) (string, string) {
	if region == "CN" {
		return "China", "中国"
	}
	return regionNames(region)
}

// regionNames returns the display names of a region in English and Chinese, which
// geocoding falls back to for numbers it knows no place of.
func regionNames(region string) (string, string) {
	r, err := language.ParseRegion(region)
	if err != nil {
		return "", ""
	}
	return display.Regions(language.English).Name(r), display.Regions(language.Chinese).Name(r)
}

// prepare bounds and cleans raw and defaults region.
func prepare(raw, region string) (clean, reg string, err error) {
	if len(raw) > maxInputBytes {
		return "", "", numberError(raw, ReasonTooLong, "longer than %d bytes", maxInputBytes)
	}
	if clean, err = cleanNumber(raw); err != nil {
		return "", "", err
	}
	if region == "" {
		region = DefaultRegion
	}
	return clean, region, nil
}

// parse parses clean (raw cleaned) in region and checks that it is a valid,
// dialable number.
func (a *Analyzer) parse(raw, clean, region string) (*phonenumbers.PhoneNumber, LineType, error) {
	if !strings.HasPrefix(clean, "+") && !phonenumbers.GetSupportedRegions()[region] {
		return nil, "", numberError(raw, ReasonRegion, "unknown region %q to read a national number in", region)
	}
	n, ok := a.fastParse(clean, region)
	var err error
	if !ok {
		n, err = phonenumbers.Parse(clean, region)
	}
	if err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			return nil, "", numberError(raw, ReasonCountryCode, "no such country calling code")
		case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD),
			errors.Is(err, phonenumbers.ErrNotANumber):
			return nil, "", numberError(raw, ReasonTooShort, "too few digits for a phone number")
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			return nil, "", numberError(raw, ReasonTooLong, "too many digits for a phone number")
		}
		return nil, "", numberError(raw, ReasonNotUnderstood, "%v", err)
	}
	if n.GetExtension() != "" {
		return nil, "", numberError(raw, ReasonCharacter, "has an extension")
	}
	// GetNumberType is UNKNOWN exactly when IsValidNumber is false (both match the
	// number against its region's patterns; asking once saves half the work).
	pt := phonenumbers.GetNumberType(n)
	if pt == phonenumbers.UNKNOWN {
		switch phonenumbers.IsPossibleNumberWithReason(n) {
		case phonenumbers.INVALID_COUNTRY_CODE:
			return nil, "", numberError(raw, ReasonCountryCode, "no such country calling code")
		case phonenumbers.TOO_SHORT:
			return nil, "", numberError(raw, ReasonTooShort, "too few digits for a number in %s", regionOf(n))
		case phonenumbers.TOO_LONG:
			return nil, "", numberError(raw, ReasonTooLong, "too many digits for a number in %s", regionOf(n))
		case phonenumbers.INVALID_LENGTH:
			return nil, "", numberError(raw, ReasonUnassigned, "no number in %s has this length", regionOf(n))
		}
		return nil, "", numberError(raw, ReasonUnassigned, "not an assigned number range in %s", regionOf(n))
	}
	typ, ok := lineTypes[pt]
	if !ok {
		return nil, "", numberError(raw, ReasonUnassigned, "not an assigned number range in %s", regionOf(n))
	}
	switch typ {
	case lineRefusedPremium, lineRefusedPager, lineRefusedVoicemail:
		return nil, "", numberError(raw, ReasonNotDialable, "a %s number", strings.ReplaceAll(string(typ), "_", "-"))
	}
	return n, typ, nil
}

// fastParse reads the international forms "+<cc><national>" and, in CN, "00<cc>
// <national>" the way phonenumbers.Parse does, without its pattern matching (which
// costs more than half of an analysis): country calling codes are prefix-free, so the
// first 1 to 3 digits that are a code are the code. It declines (false) whatever needs
// Parse's rules: national numbers starting with 0 (a national prefix written after
// the code, Italian leading zeros) or with what the country's metadata lets Parse
// strip (national prefixes, carrier codes), odd lengths, other input. FuzzFastParse checks
// that it agrees with Parse.
func (a *Analyzer) fastParse(clean, region string) (*phonenumbers.PhoneNumber, bool) {
	var digits string
	switch {
	case a.nationalPrefix == nil:
		return nil, false
	case strings.HasPrefix(clean, "+"):
		digits = clean[1:]
	case region == "CN" && strings.HasPrefix(clean, "00"):
		digits = clean[2:]
	default:
		return nil, false
	}
	if digits == "" || digits[0] == '0' {
		return nil, false
	}
	codes := phonenumbers.GetSupportedCallingCodes()
	cc := 0
	for l := 1; l <= 3 && l < len(digits); l++ {
		cc = cc*10 + int(digits[l-1]-'0')
		if !codes[cc] {
			continue
		}
		national := digits[l:]
		if len(national) < 4 || len(national) > 14 || national[0] == '0' {
			return nil, false
		}
		prefix, known := a.nationalPrefix[cc]
		if !known || (prefix != nil && prefix.MatchString(national)) {
			return nil, false
		}
		var nn uint64
		for i := 0; i < len(national); i++ {
			nn = nn*10 + uint64(national[i]-'0')
		}
		code := int32(cc)
		return &phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &nn}, true
	}
	return nil, false
}

func regionOf(n *phonenumbers.PhoneNumber) string {
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" && r != "ZZ" {
		return r
	}
	return fmt.Sprintf("+%d", n.GetCountryCode())
}

// cleanNumber keeps the digits of raw (full-width ones converted) and a leading "+",
// dropping the separators people write; anything else is refused.
func cleanNumber(raw string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	digits := 0
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
			digits++
		case r == '+' || r == '＋':
			if digits > 0 || b.Len() > 0 {
				return "", numberError(raw, ReasonCharacter, "'+' only goes first")
			}
			b.WriteByte('+')
		case isSeparator(r):
		case r == utf8.RuneError:
			return "", numberError(raw, ReasonCharacter, "not valid UTF-8")
		default:
			return "", numberError(raw, ReasonCharacter, "contains %q", r)
		}
	}
	switch {
	case digits == 0:
		return "", numberError(raw, ReasonEmpty, "no digits")
	case digits < minDigits:
		return "", numberError(raw, ReasonTooShort, "too few digits for a phone number")
	case digits > maxDigits:
		return "", numberError(raw, ReasonTooLong, "too many digits for a phone number")
	}
	return b.String(), nil
}

// isSeparator reports whether r is a visual separator in a written number: spaces,
// dashes, dots, slashes and brackets, ASCII and full-width.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '\u00a0', '\u3000', '-', '‐', '‑', '‒', '–', '—', '－', '.', '．', '/', '(', ')', '（', '）', '[', ']':
		return true
	}
	return false
}
