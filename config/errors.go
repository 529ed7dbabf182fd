package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Error classes. Every *Error wraps one of them (Errorf uses
// ErrInvalidValue), so callers and tests branch with errors.Is instead of
// comparing message text.
var (
	// ErrSyntax: the file is not well-formed YAML.
	ErrSyntax = errors.New("config: invalid YAML")
	// ErrVersion: `version` is missing or is not otel_dataflow/v1.
	ErrVersion = errors.New("config: unsupported version")
	// ErrUnknownField: a key that the structure does not define (often a typo).
	ErrUnknownField = errors.New("config: unknown field")
	// ErrDuplicate: a mapping key, output port or list entry given twice.
	ErrDuplicate = errors.New("config: duplicate")
	// ErrType: a value of the wrong YAML shape (a list where a mapping goes,
	// text where a number goes).
	ErrType = errors.New("config: wrong type")
	// ErrMissing: something required is absent or empty (no groups, no nodes,
	// no receiver, an empty `from`).
	ErrMissing = errors.New("config: missing value")
	// ErrInvalidValue: a value of the right type outside its allowed set or
	// range (a zero capacity, a malformed node type or duration).
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrUnknownNodeType: a node type that no registered component provides.
	ErrUnknownNodeType = errors.New("config: unknown node type")
	// ErrUnknownNode: a connection names a node the pipeline does not define.
	ErrUnknownNode = errors.New("config: unknown node")
	// ErrUnknownPort: a connection uses an output port the node does not declare.
	ErrUnknownPort = errors.New("config: unknown output port")
	// ErrWiring: a connection goes the wrong way (from an exporter, to a
	// receiver) or selects a port on a destination.
	ErrWiring = errors.New("config: invalid connection")
	// ErrCycle: the connections of a pipeline form a cycle.
	ErrCycle = errors.New("config: cycle")
	// ErrAlias: an alias refers to a value that contains it, or aliases and
	// merge keys would expand the document past MaxAliasExpansion values.
	// Nothing else is checked in such a document.
	ErrAlias = errors.New("config: alias")
	// ErrTooLarge: the file is larger than MaxFileSize.
	ErrTooLarge = errors.New("config: file too large")
)

// Error is one configuration problem, positioned in the file and phrased in
// the user's terms: what is wrong (Msg) and what to do about it (Hint).
//
// Its text is
//
//	config.yaml:12:7: groups.default.pipelines.main.nodes.fan.config.destinations[1].fallback_for: names no destination "x" (hint: ...)
//
// Line and Column are 1-based and 0 when unknown; the file name is
// "<config>" when File is empty.
type Error struct {
	File   string // file name as given to Parse or Load
	Path   Path   // YAML path of the offending value
	Node   string // name of the node the path lies under, or ""
	Line   int    // 1-based line, 0 if unknown
	Column int    // 1-based column, 0 if unknown
	Msg    string // what is wrong
	Hint   string // how to fix it; may be empty
	Err    error  // class sentinel (ErrUnknownField, ...), returned by Unwrap
}

// Error formats the error as file:line:col: path: msg (hint: hint).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("<config>")
	}
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if p := e.Path.String(); p != "" {
		b.WriteString(": ")
		b.WriteString(p)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(e.Hint)
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the class sentinel, so errors.Is(err, ErrCycle) works on a
// single *Error and on the joined error Parse returns.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a config error at path for a node validator, of class
// ErrInvalidValue:
//
//	config.Errorf(p.Key("destinations").Index(1).Key("fallback_for"),
//		"fallback_for must name the port of another destination",
//		"names no destination %q", name)
//
// The line, column, file and node are filled in by Document.Validate from
// the path, so a validator only has to build the right path. A validator
// with its own error classes may set Err to its sentinel instead.
func Errorf(path Path, hint, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint, Err: ErrInvalidValue}
}

// Errors lists the *Error values inside err (a single *Error or any tree of
// errors.Join), in order. Errors of other types are skipped. It is how a
// CLI prints one problem per line, or a test inspects them one by one.
func Errors(err error) []*Error {
	var out []*Error
	walkErrors(err, func(e error) {
		if ce, ok := e.(*Error); ok {
			out = append(out, ce)
		}
	})
	return out
}

// walkErrors calls leaf for every error in a tree of multi-errors
// (Unwrap() []error), not descending into *Error, whose Unwrap is its class.
func walkErrors(err error, leaf func(error)) {
	if err == nil {
		return
	}
	if _, ok := err.(*Error); ok {
		leaf(err)
		return
	}
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range m.Unwrap() {
			walkErrors(e, leaf)
		}
		return
	}
	leaf(err)
}

// errorList collects errors while a document is checked; nothing stops at
// the first one.
type errorList []*Error

// add records an error positioned at n (which may be nil: finish then
// locates it from the path).
func (l *errorList) add(n *yaml.Node, class error, path Path, hint, format string, args ...any) {
	e := &Error{Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint, Err: class}
	setPos(e, n)
	*l = append(*l, e)
}

// addErr records every *Error inside err; any other error becomes an
// *Error at path (its text as the message).
func (l *errorList) addErr(err error, path Path) {
	walkErrors(err, func(e error) {
		ce, ok := e.(*Error)
		if !ok {
			ce = &Error{Path: path, Msg: e.Error(), Err: e}
		} else {
			c := *ce // finish fills in fields: never modify the producer's value
			ce = &c
		}
		*l = append(*l, ce)
	})
}

// setPos copies n's position into e.
func setPos(e *Error, n *yaml.Node) {
	if n != nil && n.Line > 0 {
		e.Line, e.Column = n.Line, n.Column
	}
}

// finish completes every error (file, node, and a position found from the
// path in root when the producer did not know it), sorts them by position
// and joins them. Errors without a position go last. It returns nil for an
// empty list.
func (l errorList) finish(file string, root *yaml.Node) error {
	if len(l) == 0 {
		return nil
	}
	loc := locator{root: root}
	for _, e := range l {
		if e.File == "" {
			e.File = file
		}
		if e.Node == "" {
			e.Node = e.Path.nodeName()
		}
		if e.Line == 0 {
			setPos(e, loc.locate(e.Path))
		}
	}
	sorted := slices.Clone(l)
	slices.SortStableFunc(sorted, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	errs := make([]error, len(sorted))
	for i, e := range sorted {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// syntaxError turns a yaml parser error ("yaml: line 3: did not find
// expected key") into a positioned *Error.
func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file, Err: ErrSyntax,
		Hint: "fix the YAML syntax: indent with spaces, not tabs, and check colons and quotes"}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				e.Line, msg = n, text
			}
		}
	}
	e.Msg = "invalid YAML: " + msg
	return e
}

// Bounds on suggest's work, which would otherwise be quadratic in a
// document with many names and many mistakes: typos are looked for among
// at most this many candidates, in names of at most this many bytes.
const (
	maxSuggestCandidates = 1000
	maxSuggestLen        = 64
)

// suggest returns ` did you mean "x"?` when one of the candidates is a
// likely typo of got, or "".
func suggest(got string, candidates []string) string {
	if len(got) > maxSuggestLen || len(candidates) > maxSuggestCandidates {
		return ""
	}
	best, bestD := "", len(got)/3+2
	for _, c := range candidates {
		if max(len(c)-len(got), len(got)-len(c)) >= bestD {
			continue // the distance is at least the difference in length
		}
		if d := EditDistance(got, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %q? ", best)
}

// EditDistance is the Levenshtein distance between a and b, in bytes: the
// measure behind the "did you mean" hints of config errors. Node packages
// use it for hints of their own, so that a typo is judged the same way
// everywhere.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// maxListed is how many names a hint lists before it says how many more
// there are.
const maxListed = 20

// listNames joins names for a hint, at most maxListed of them.
func listNames(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, ... (%d more)", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}
