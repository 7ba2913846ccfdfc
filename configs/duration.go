package configs

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

var (
	_ yaml.Unmarshaler = (*Duration)(nil)
	_ yaml.Marshaler   = Duration(0)
	_ fmt.Stringer     = Duration(0)
)

// UnmarshalYAML reads a duration written as Go duration text: "30s", "5m", "1h30m",
// "-1s". A bare number other than 0 is refused, because its unit would be a guess.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 30s, 5m or 2h, got %s", describeNode(n))
	}
	s := strings.TrimSpace(n.Value)
	v, err := time.ParseDuration(s)
	if err != nil {
		if strings.Trim(s, "+-0123456789.") == "" && s != "" {
			return fmt.Errorf("duration %q has no unit: write e.g. %ss or %sm", n.Value, s, s)
		}
		return fmt.Errorf("invalid duration %q: write e.g. 30s, 5m or 2h", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as text, e.g. "1m30s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats the duration like time.Duration does, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }
