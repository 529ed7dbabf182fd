package filter

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// regexpHint says how regexps are written and applied.
const regexpHint = "write an RE2 regular expression (Go regexp syntax); it matches anywhere in the text unless anchored with ^ and $"

// compileRegexp compiles one pattern of a regexp rule.
func compileRegexp(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("invalid regexp %q: %w", s, err)
	}
	return re, nil
}

// smallSet is the size up to which exact strings are compared in a loop
// rather than looked up in a map.
const smallSet = 8

// stringMatcher matches a string against exact strings or regexps: one
// of them must match. The zero value matches nothing and is empty.
type stringMatcher struct {
	exact []string
	set   map[string]struct{} // exact, when longer than smallSet
	res   []*regexp.Regexp
}

// index builds the lookup set of a long list.
func (m *stringMatcher) index() {
	if len(m.exact) <= smallSet {
		return
	}
	m.set = make(map[string]struct{}, len(m.exact))
	for _, s := range m.exact {
		m.set[s] = struct{}{}
	}
}

// empty reports that the property is not set.
func (m *stringMatcher) empty() bool { return len(m.exact) == 0 && len(m.res) == 0 }

func (m *stringMatcher) match(s string) bool {
	if m.set != nil {
		if _, ok := m.set[s]; ok {
			return true
		}
	} else if slices.Contains(m.exact, s) {
		return true
	}
	for _, re := range m.res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// valueKind is what a valueMatcher compares.
type valueKind uint8

const (
	matchAny    valueKind = iota // any value: an attribute given by key only
	matchStr                     // a string, strictly
	matchRegexp                  // a string, by regexp
	matchInt                     // an integer (or a double of the same value)
	matchDouble                  // a double (or an integer of the same value)
	matchBool                    // a boolean
	matchRaw                     // a list or mapping, by deep equality
)

// valueMatcher matches one pcommon.Value.
type valueMatcher struct {
	kind valueKind
	s    string
	re   *regexp.Regexp
	i    int64
	f    float64
	b    bool
	raw  pcommon.Value
}

// newValueMatcher compiles a value as YAML decoded it. Strings follow mt;
// every other value must be equal.
func newValueMatcher(x any, mt MatchType) (valueMatcher, error) {
	switch v := x.(type) {
	case nil:
		return valueMatcher{kind: matchAny}, nil
	case string:
		if mt == Regexp {
			re, err := compileRegexp(v)
			if err != nil {
				return valueMatcher{}, err
			}
			return valueMatcher{kind: matchRegexp, re: re}, nil
		}
		return valueMatcher{kind: matchStr, s: v}, nil
	case bool:
		return valueMatcher{kind: matchBool, b: v}, nil
	case int:
		return valueMatcher{kind: matchInt, i: int64(v)}, nil
	case int64:
		return valueMatcher{kind: matchInt, i: v}, nil
	case uint64:
		if v > math.MaxInt64 {
			return valueMatcher{}, fmt.Errorf("integer %d is out of range (OpenTelemetry integers are 64-bit signed)", v)
		}
		return valueMatcher{kind: matchInt, i: int64(v)}, nil
	case float64:
		return valueMatcher{kind: matchDouble, f: v}, nil
	case []any, map[string]any:
		raw := pcommon.NewValueEmpty()
		if err := raw.FromRaw(v); err != nil {
			return valueMatcher{}, fmt.Errorf("cannot match this value: %v", err)
		}
		return valueMatcher{kind: matchRaw, raw: raw}, nil
	}
	return valueMatcher{}, fmt.Errorf("cannot match a value of type %T", x)
}

func (m *valueMatcher) match(v pcommon.Value) bool {
	switch m.kind {
	case matchAny:
		return true
	case matchStr:
		return v.Type() == pcommon.ValueTypeStr && v.Str() == m.s
	case matchRegexp:
		return v.Type() == pcommon.ValueTypeStr && m.re.MatchString(v.Str())
	case matchInt:
		switch v.Type() {
		case pcommon.ValueTypeInt:
			return v.Int() == m.i
		case pcommon.ValueTypeDouble:
			return v.Double() == float64(m.i)
		}
	case matchDouble:
		switch v.Type() {
		case pcommon.ValueTypeDouble:
			return v.Double() == m.f
		case pcommon.ValueTypeInt:
			return float64(v.Int()) == m.f
		}
	case matchBool:
		return v.Type() == pcommon.ValueTypeBool && v.Bool() == m.b
	case matchRaw:
		return m.raw.Equal(v)
	}
	return false
}

// attrMatcher matches one attribute of a map: the key is present and its
// value matches.
type attrMatcher struct {
	key   string
	value valueMatcher
}

func (a *attrMatcher) match(m pcommon.Map) bool {
	v, ok := m.Get(a.key)
	return ok && a.value.match(v)
}

// allAttrs reports whether every matcher matches m (true for none).
func allAttrs(ms []attrMatcher, m pcommon.Map) bool {
	for i := range ms {
		if !ms[i].match(m) {
			return false
		}
	}
	return true
}

// anyAttr reports whether at least one matcher matches m.
func anyAttr(ms []attrMatcher, m pcommon.Map) bool {
	if m.Len() == 0 {
		return false
	}
	for i := range ms {
		if ms[i].match(m) {
			return true
		}
	}
	return false
}

// anyValue reports whether at least one matcher matches v.
func anyValue(ms []valueMatcher, v pcommon.Value) bool {
	for i := range ms {
		if ms[i].match(v) {
			return true
		}
	}
	return false
}

// kindSet is a set of span kinds, one bit per ptrace.SpanKind.
type kindSet uint8

func (s kindSet) has(k ptrace.SpanKind) bool { return k >= 0 && k < 8 && s&(1<<k) != 0 }

// parseSpanKind reads "server", "Server", "SERVER" or "SPAN_KIND_SERVER".
func parseSpanKind(s string) (ptrace.SpanKind, bool) {
	switch strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SPAN_KIND_") {
	case "UNSPECIFIED":
		return ptrace.SpanKindUnspecified, true
	case "INTERNAL":
		return ptrace.SpanKindInternal, true
	case "SERVER":
		return ptrace.SpanKindServer, true
	case "CLIENT":
		return ptrace.SpanKindClient, true
	case "PRODUCER":
		return ptrace.SpanKindProducer, true
	case "CONSUMER":
		return ptrace.SpanKindConsumer, true
	}
	return 0, false
}
