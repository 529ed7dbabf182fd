package config

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Path is the location of a value in the document, as the mapping keys and
// list indexes that lead to it from the root, printed the way users read
// YAML: groups.default.pipelines.main.nodes.fan.config.destinations[1].
//
// The zero Path is the document root. Paths are values: Key and Index return
// a new Path and never modify the receiver, so one base path can be extended
// in several directions.
type Path struct {
	segs []segment
}

// segment is one step of a Path: a mapping key or a list index.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// Key returns the path of the value under mapping key k.
func (p Path) Key(k string) Path {
	return p.with(segment{key: k})
}

// Index returns the path of list item i.
func (p Path) Index(i int) Path {
	return p.with(segment{index: i, isIndex: true})
}

// with appends s to a copy. The three-index slice caps the capacity so that
// append always copies: two paths extended from the same base never share
// (and overwrite) a backing array.
func (p Path) with(s segment) Path {
	n := len(p.segs)
	return Path{segs: append(p.segs[:n:n], s)}
}

// String renders the path: keys joined by dots, indexes in brackets. A key
// that would read ambiguously (empty, or containing a dot, bracket, quote or
// space) is printed as a quoted selector, ["a.b"].
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p.segs {
		switch {
		case s.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case plainKey(s.key):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.key))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func plainKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, ".[]\"' \t\n")
}

// hasPrefix reports whether q is p or an ancestor of p.
func (p Path) hasPrefix(q Path) bool {
	if len(q.segs) > len(p.segs) {
		return false
	}
	for i, s := range q.segs {
		if p.segs[i] != s {
			return false
		}
	}
	return true
}

// nodeName returns the node a path lies under
// (groups.G.pipelines.P.nodes.NAME...), or "".
func (p Path) nodeName() string {
	s := p.segs
	if len(s) < 6 || s[0].key != "groups" || s[2].key != "pipelines" || s[4].key != "nodes" {
		return ""
	}
	for _, seg := range s[:6] {
		if seg.isIndex {
			return ""
		}
	}
	return s[5].key
}

// locator finds the YAML node at a path. It indexes each large mapping it
// steps through, once, so that positioning an error under every one of n
// nodes costs O(n), not O(n²).
type locator struct {
	root *yaml.Node
	keys map[*yaml.Node]map[string]*yaml.Node // value by key, first one wins
}

// indexFrom is the number of pairs from which a mapping is indexed.
const indexFrom = 16

// locate follows p from the root and returns the deepest YAML node it
// reaches. A path that goes further than the document (a missing required
// field) therefore points at the mapping that lacks it, which is where the
// user has to add it.
func (l *locator) locate(p Path) *yaml.Node {
	if l.root == nil {
		return nil
	}
	n := resolve(l.root)
	for _, s := range p.segs {
		next := l.child(n, s)
		if next == nil {
			break
		}
		n = next
	}
	return n
}

func (l *locator) child(n *yaml.Node, s segment) *yaml.Node {
	if n == nil || s.isIndex || n.Kind != yaml.MappingNode || len(n.Content) < 2*indexFrom {
		return child(n, s)
	}
	idx, ok := l.keys[n]
	if !ok {
		idx = make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolve(n.Content[i]); k != nil {
				if _, dup := idx[k.Value]; !dup {
					idx[k.Value] = resolve(n.Content[i+1])
				}
			}
		}
		if l.keys == nil {
			l.keys = map[*yaml.Node]map[string]*yaml.Node{}
		}
		l.keys[n] = idx
	}
	return idx[s.key]
}

// child returns the value under s in n, or nil.
func child(n *yaml.Node, s segment) *yaml.Node {
	switch {
	case n == nil:
		return nil
	case s.isIndex:
		if n.Kind == yaml.SequenceNode && s.index >= 0 && s.index < len(n.Content) {
			return resolve(n.Content[s.index])
		}
	case n.Kind == yaml.MappingNode:
		// The first occurrence wins: a duplicate key is itself reported
		// at its own position.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolve(n.Content[i]); k != nil && k.Value == s.key {
				return resolve(n.Content[i+1])
			}
		}
	}
	return nil
}

// resolve steps through document and alias nodes to the node holding the
// value. It stops after a fixed number of hops so that a malformed tree
// cannot loop.
func resolve(n *yaml.Node) *yaml.Node {
	for range 64 {
		switch {
		case n == nil:
			return nil
		case n.Kind == yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return n
}
