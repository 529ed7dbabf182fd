package config

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// durationHint is the fix suggested for every malformed duration.
const durationHint = "use a Go duration such as 200ms, 5s or 1h30m; units are ns, us, ms, s, m, h, d and w"

// Duration is a time.Duration written as text in the configuration: Go
// syntax ("200ms", "1h30m", "1.5s") or humantime style, with spaces between
// the parts and long unit names ("1m 30s", "2 days", "500 msec"). The
// integer 0 is accepted too, since "no time" needs no unit; any other bare
// number is refused because its unit would be a guess.
//
// Units: ns (nsec), us/µs (usec), ms (msec), s (sec, second(s)),
// m (min, minute(s)), h (hr, hour(s)), d (day(s)), w (week(s)). A day is 24h.
// Months and years are refused: their length varies. A leading sign is
// allowed, as in Go; whether a negative value makes sense is for the field's
// validator to say.
type Duration time.Duration

// ParseDuration parses s as described on Duration. Its error wraps
// ErrInvalidValue and says how to write a duration.
func ParseDuration(s string) (Duration, error) {
	d, reason := parseDuration(s)
	if reason != "" {
		return 0, fmt.Errorf("%w: invalid duration %q: %s; %s", ErrInvalidValue, s, reason, durationHint)
	}
	return d, nil
}

// String formats d in Go syntax ("1m30s"), which ParseDuration reads back.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d as its String form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration scalar. Its errors are *Error values
// positioned at the scalar; DecodeStrict adds the path.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		e := &Error{Msg: "want a duration, got " + describeNode(n), Hint: durationHint, Err: ErrType}
		setPos(e, n)
		return e
	}
	v, reason := parseDuration(n.Value)
	if reason != "" {
		e := &Error{Msg: fmt.Sprintf("invalid duration %q: %s", n.Value, reason), Hint: durationHint, Err: ErrInvalidValue}
		setPos(e, n)
		return e
	}
	*d = v
	return nil
}

// durationUnits maps every accepted unit spelling to its length.
var durationUnits = func() map[string]time.Duration {
	m := map[string]time.Duration{}
	for unit, names := range map[time.Duration][]string{
		time.Nanosecond:    {"ns", "nsec", "nsecs", "nanosecond", "nanoseconds"},
		time.Microsecond:   {"us", "µs", "μs", "usec", "usecs", "microsecond", "microseconds"},
		time.Millisecond:   {"ms", "msec", "msecs", "millisecond", "milliseconds"},
		time.Second:        {"s", "sec", "secs", "second", "seconds"},
		time.Minute:        {"m", "min", "mins", "minute", "minutes"},
		time.Hour:          {"h", "hr", "hrs", "hour", "hours"},
		24 * time.Hour:     {"d", "day", "days"},
		7 * 24 * time.Hour: {"w", "week", "weeks"},
	} {
		for _, n := range names {
			m[n] = unit
		}
	}
	return m
}()

// parseDuration returns the duration, or a reason it is invalid. Arithmetic
// is exact (big integers), so "1.000000001s" is one second and one
// nanosecond, and overflow is reported rather than wrapped.
func parseDuration(s string) (Duration, string) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	switch s {
	case "":
		return 0, "empty"
	case "0":
		return 0, ""
	}
	total := new(big.Int)
	for s != "" {
		num, rest := cutNumber(s)
		if num.intPart == "" && num.fracPart == "" {
			return 0, fmt.Sprintf("expected a number at %q", s)
		}
		rest = strings.TrimLeft(rest, " ")
		unitName, rest2 := cutUnit(rest)
		if unitName == "" {
			return 0, "missing unit after " + num.text
		}
		unit, ok := durationUnits[unitName]
		if !ok {
			return 0, fmt.Sprintf("unknown unit %q", unitName)
		}
		part, _ := num.times(big.NewInt(int64(unit))) // a fraction of a nanosecond is dropped, as in Go
		total.Add(total, part)
		s = strings.TrimLeft(rest2, " ")
	}
	if neg {
		total.Neg(total)
	}
	if !total.IsInt64() {
		return 0, fmt.Sprintf("out of range (the limit is about %d years)", math.MaxInt64/int64(365*24*time.Hour))
	}
	return Duration(total.Int64()), ""
}

// number is a decimal as written: integer and fraction digits.
type number struct {
	text, intPart, fracPart string
}

// cutNumber reads digits with an optional fraction from the front of s.
func cutNumber(s string) (number, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n := number{intPart: s[:i]}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n.fracPart = s[i+1 : j]
		i = j
	}
	n.text = s[:i]
	return n, s[i:]
}

// times returns the number multiplied by unit, truncated toward zero, and
// whether the product is whole.
func (n number) times(unit *big.Int) (*big.Int, bool) {
	digits, _ := new(big.Int).SetString(n.intPart+n.fracPart+"0", 10) // the "0" makes an empty string parse; divided out below
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(n.fracPart))+1), nil)
	v := digits.Mul(digits, unit)
	q, r := new(big.Int).QuoRem(v, scale, new(big.Int))
	return q, r.Sign() == 0
}

// cutUnit reads a unit name (anything up to a digit, space or sign) from the
// front of s.
func cutUnit(s string) (string, string) {
	i := 0
	for i < len(s) && !isDigit(s[i]) && s[i] != ' ' && s[i] != '.' && s[i] != '-' && s[i] != '+' {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// describeNode names a YAML value's shape for messages: a scalar as its
// quoted text, otherwise "a mapping" or "a list".
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		if n.Tag == "!!str" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return fmt.Sprintf("%q", n.Value)
		}
		return n.Value
	}
}
