package routing

import (
	"strings"
)

// This file reads libphonenumber's geocoding descriptions into cities and provinces,
// and makes the keys that match place names however an admin writes them.
//
// The English descriptions are "City, Province" ("Shenzhen, Guangdong"), "A/B,
// Province" for numbers shared by cities ("Shunde/Foshan, Guangdong"), a lone name
// for the municipalities ("Beijing") and the country for numbers without a place
// ("China"). The Chinese ones are "广东省深圳市", "广东省佛山市、顺德市", "新疆乌鲁木齐市",
// "北京市" and "中国".

// Place is where a number belongs: its cities and province, in English and Chinese
// as libphonenumber names them. Empty names mean unknown.
type Place struct {
	City       string // "Shenzhen"; "Shunde/Foshan" for numbers shared by cities
	Province   string // "Guangdong"; a municipality is its own province: "Beijing"
	CityZH     string // "深圳市"
	ProvinceZH string // "广东"
}

// CityKeys returns the keys of p's cities in both languages, for matching.
func (p Place) CityKeys() []string {
	var out []string
	for _, s := range strings.Split(p.City, "/") {
		out = appendKey(out, s)
	}
	for _, s := range strings.Split(p.CityZH, "、") {
		out = appendKey(out, s)
	}
	return out
}

// ProvinceKeys returns the keys of p's province in both languages.
func (p Place) ProvinceKeys() []string {
	return appendKey(appendKey(nil, p.Province), p.ProvinceZH)
}

func appendKey(keys []string, name string) []string {
	k := PlaceKey(name)
	if k == "" {
		return keys
	}
	for _, have := range keys {
		if have == k {
			return keys
		}
	}
	return append(keys, k)
}

// zhSuffixes are the administrative suffixes a place key drops, longest first.
var zhSuffixes = []string{"维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"}

// PlaceKey is the form in which place names are compared: trimmed, lower case,
// without the administrative suffixes "省", "市", "自治区" and the like, or " city" and
// " province". "深圳市", "深圳", "Shenzhen" and "shenzhen city" give "深圳", "深圳",
// "shenzhen" and "shenzhen": English and Chinese names are both keys of a place, so
// either matches.
func PlaceKey(name string) string {
	k := strings.ToLower(strings.TrimSpace(name))
	for _, suf := range zhSuffixes {
		if s, ok := strings.CutSuffix(k, suf); ok && s != "" {
			k = s
			break
		}
	}
	for _, suf := range []string{" city", " province", " shi", " sheng"} {
		if s, ok := strings.CutSuffix(k, suf); ok && s != "" {
			k = s
			break
		}
	}
	return strings.TrimSpace(k)
}

// parseEnglishPlace reads an English geocoding description. country is the
// description of a number known only by its country ("China"): no place.
func parseEnglishPlace(desc, country string) (city, province string) {
	desc = strings.TrimSpace(desc)
	if desc == "" || desc == country {
		return "", ""
	}
	city, province, found := strings.Cut(desc, ", ")
	if !found {
		return desc, desc // a municipality, or a place known by one name
	}
	return city, province
}

// zhProvinces are the province-level divisions of China as geocoding descriptions
// start with them. None is a prefix of another.
var zhProvinces = []string{
	"北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
	"江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
	"台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
}

// parseChinesePlace reads a Chinese geocoding description.
func parseChinesePlace(desc, country string) (city, province string) {
	desc = strings.TrimSpace(desc)
	if desc == "" || desc == country {
		return "", ""
	}
	for _, p := range zhProvinces {
		rest, ok := strings.CutPrefix(desc, p)
		if !ok {
			continue
		}
		for _, suf := range zhSuffixes {
			if r, ok := strings.CutPrefix(rest, suf); ok {
				rest = r
				break
			}
		}
		if rest == "" {
			return p, p // a municipality
		}
		return rest, p
	}
	return desc, desc
}
