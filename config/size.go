package config

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// sizeHint is the fix suggested for every malformed size.
const sizeHint = "use bytes or a unit, such as 1048576, 256KiB, 64MiB, 10GB or 10GiB"

// Size is a number of bytes written as a plain integer or with a unit:
// decimal KB, MB, GB, TB, PB (powers of 1000) or binary KiB, MiB, GiB, TiB,
// PiB (powers of 1024), optionally after a space ("64 MiB"). Units are
// case-insensitive ("10gb" is 10GB). A fraction is accepted only when it
// comes to a whole number of bytes ("1.5MB", "0.5KiB"), since a rounded size
// would not be the one the user wrote. Sizes cannot be negative.
type Size int64

// sizeUnits maps lower-case unit names to their multiplier.
var sizeUnits = map[string]int64{
	"b":  1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
}

// ParseSize parses s as described on Size. Its error wraps ErrInvalidValue
// and says how to write a size.
func ParseSize(s string) (Size, error) {
	v, reason := parseSize(s)
	if reason != "" {
		return 0, fmt.Errorf("%w: invalid size %q: %s; %s", ErrInvalidValue, s, reason, sizeHint)
	}
	return v, nil
}

// String formats the size with the unit that gives the smallest whole
// number ("64MiB", "10GB", "1500B"), binary units winning ties; ParseSize
// reads it back.
func (s Size) String() string {
	if s == 0 {
		return "0B"
	}
	best, bestUnit := int64(s), "B"
	for _, u := range []struct {
		name string
		mult int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
	} {
		if q := int64(s) / u.mult; int64(s)%u.mult == 0 && abs(q) < abs(best) {
			best, bestUnit = q, u.name
		}
	}
	return strconv.FormatInt(best, 10) + bestUnit
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// MarshalYAML writes s as its String form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads a size scalar. Its errors are *Error values positioned
// at the scalar; DecodeStrict adds the path.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		e := &Error{Msg: "want a size, got " + describeNode(n), Hint: sizeHint, Err: ErrType}
		setPos(e, n)
		return e
	}
	text := n.Value
	if n.ShortTag() == "!!int" {
		// YAML integers may be written 0x10 or 0o17: let YAML read them.
		var i int64
		if err := n.Decode(&i); err == nil {
			text = strconv.FormatInt(i, 10)
		}
	}
	v, reason := parseSize(text)
	if reason != "" {
		e := &Error{Msg: fmt.Sprintf("invalid size %q: %s", n.Value, reason), Hint: sizeHint, Err: ErrInvalidValue}
		setPos(e, n)
		return e
	}
	*s = v
	return nil
}

// parseSize returns the size, or a reason it is invalid.
func parseSize(s string) (Size, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "empty"
	}
	if s[0] == '-' {
		return 0, "sizes cannot be negative"
	}
	num, rest := cutNumber(strings.TrimPrefix(s, "+"))
	if num.intPart == "" && num.fracPart == "" {
		return 0, "expected a number"
	}
	unitName := strings.ToLower(strings.TrimLeft(rest, " "))
	mult := int64(1)
	if unitName != "" {
		m, ok := sizeUnits[unitName]
		if !ok {
			return 0, fmt.Sprintf("unknown unit %q", strings.TrimLeft(rest, " "))
		}
		mult = m
	}
	v, exact := num.times(big.NewInt(mult))
	if !exact {
		return 0, "not a whole number of bytes"
	}
	if !v.IsInt64() {
		return 0, "too large"
	}
	return Size(v.Int64()), ""
}
