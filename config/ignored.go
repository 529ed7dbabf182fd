package config

import (
	"cmp"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ErrIgnored is the class of a key that the reference engine documents and
// ackflow accepts without acting on it (see IgnoredKey). It is not an
// error in a document: Load, Parse and Validate set such keys apart and
// Document.Ignored lists them. It is an error only where a caller makes it
// one, as `ackflow validate --strict` does with Strict.
var ErrIgnored = errors.New("config: accepted but ignored")

// IgnoredKey is a key of the reference engine's format that ackflow accepts
// and does not act on, because it does not need it (a Tokio setting, a
// client pool size) or does the job another way. It is never accepted
// silently: `ackflow validate` lists every one and `ackflow run` logs each
// at start-up, with its path and Reason.
type IgnoredKey struct {
	File   string // file name as given to Parse or Load
	Path   Path   // YAML path of the key
	Line   int    // 1-based line of the key, 0 if unknown
	Column int    // 1-based column of the key, 0 if unknown
	Reason string // why ackflow does not need it, in the user's terms
}

// String formats the key as file:line:col: path: reason.
func (k IgnoredKey) String() string {
	var b strings.Builder
	b.WriteString(cmp.Or(k.File, "<config>"))
	if k.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(k.Line))
		if k.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(k.Column))
		}
	}
	b.WriteString(": ")
	b.WriteString(k.Path.String())
	b.WriteString(": ")
	b.WriteString(k.Reason)
	return b.String()
}

// AsError returns the key as an *Error of class ErrIgnored, for callers
// that refuse what ackflow would ignore.
func (k IgnoredKey) AsError() *Error {
	return &Error{
		File: k.File, Path: k.Path, Node: k.Path.nodeName(), Line: k.Line, Column: k.Column,
		Msg:  "accepted by the reference engine but ignored by ackflow: " + k.Reason,
		Hint: "remove the key, or validate without --strict to accept it",
		Err:  ErrIgnored,
	}
}

// Ignore returns the report of a key (or a value) that a node's validator
// accepts without acting on it, for validators that decide by value: a
// validator returns it joined with its errors, and DecodeNodeConfig and
// Document.Validate set it apart as an IgnoredKey instead of a failure.
// reason says why ackflow does not need it.
//
//	errs = append(errs, config.Ignore(p.Key("otlp_handling"),
//		"convert_to_arrow is stored as pass_through: the buffer keeps each payload in the form it arrived in"))
func Ignore(path Path, reason string) error {
	return &Error{Path: path, Msg: reason, Err: ErrIgnored}
}

// Strict returns err with every ignored key added as an *Error of class
// ErrIgnored (see IgnoredKey.AsError), all sorted by position: what
// `ackflow validate --strict` reports. It returns nil when both are empty.
func Strict(err error, ignored []IgnoredKey) error {
	var l errorList
	l.addErr(err, Path{})
	for _, k := range ignored {
		l = append(l, k.AsError())
	}
	return l.finish("", nil)
}

// ignoredTag reads a field's `ackflow:"ignored,REASON"` tag.
func ignoredTag(tag reflect.StructTag) (string, bool) {
	v, ok := tag.Lookup("ackflow")
	if !ok {
		return "", false
	}
	reason, ok := strings.CutPrefix(v, "ignored,")
	return reason, ok && reason != ""
}

// splitIgnored separates the ErrIgnored entries of err (from Ignore or
// DecodeStrict) from the real errors.
func splitIgnored(err error) (error, []IgnoredKey) {
	if err == nil {
		return nil, nil
	}
	var rest []error
	var ignored []IgnoredKey
	walkErrors(err, func(e error) {
		if ce, ok := e.(*Error); ok && errors.Is(ce.Err, ErrIgnored) {
			ignored = append(ignored, IgnoredKey{Path: ce.Path, Line: ce.Line, Column: ce.Column, Reason: ce.Msg})
			return
		}
		rest = append(rest, e)
	})
	if len(ignored) == 0 {
		return err, nil
	}
	return errors.Join(rest...), ignored
}

// record adds keys to the list the node collects while Document.Validate
// runs its validator. At any other time (building the node, a test's
// validation) the node collects nothing and record writes nothing, so that
// nodes decoded on several goroutines share no state.
func (n *Node) record(keys []IgnoredKey) {
	if n.ignored != nil {
		*n.ignored = append(*n.ignored, keys...)
	}
}

// Ignored returns the keys of the document that ackflow accepts without
// acting on them, each once, in document order (by line and column, then
// path), with its file and position. Those of the nodes' config blocks are
// known once Validate (or Load) has run.
func (d *Document) Ignored() []IgnoredKey {
	all := slices.Concat(d.ignored, d.nodeIgnored)
	seen := make(map[string]bool, len(all))
	out := all[:0:0]
	loc := locator{root: d.root}
	for _, k := range all {
		ps := k.Path.String()
		if seen[ps] {
			continue
		}
		seen[ps] = true
		if k.File == "" {
			k.File = d.File
		}
		if k.Line == 0 {
			if at := loc.key(k.Path); at != nil {
				k.Line, k.Column = at.Line, at.Column
			}
		}
		out = append(out, k)
	}
	slices.SortStableFunc(out, func(a, b IgnoredKey) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), strings.Compare(a.Path.String(), b.Path.String()))
	})
	return out
}

// key returns the YAML key node at the end of p (the key, not its value),
// or the value node when p ends in a list index; nil if p is not in the
// document.
func (l *locator) key(p Path) *yaml.Node {
	if len(p.segs) == 0 || l.root == nil {
		return nil
	}
	last := p.segs[len(p.segs)-1]
	parent := Path{segs: p.segs[:len(p.segs)-1]}
	n := resolve(l.root)
	for _, s := range parent.segs {
		if n = l.child(n, s); n == nil {
			return nil
		}
	}
	if last.isIndex || n.Kind != yaml.MappingNode {
		return child(n, last)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Value == last.key {
			return k
		}
	}
	return nil
}
