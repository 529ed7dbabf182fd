package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// DecodeStrict decodes a node's raw config block into out, a pointer to the
// node's config struct pre-filled with its defaults. Fields absent from raw
// keep their defaults. A nil raw (no `config:` or `config: ~`) leaves out
// untouched.
//
// Unlike yaml.Node.Decode it rejects unknown fields, and it reports every
// problem rather than the first: each unknown field and each value of the
// wrong type is an *Error at its YAML path under path (the node's path +
// "config") with the line and column of the original document, joined with
// errors.Join. The unknown-field error lists the fields that are allowed.
// When there is any error, out may be partly written.
//
// It follows yaml's struct rules (`yaml:"name"` tags, lower-cased field
// names, ",inline" structs and maps, "-"), calls UnmarshalYAML methods such
// as Duration's and Size's (an *Error they return without a path gets the
// value's path), and accepts anything under a yaml.Node field. An
// interface{} field accepts any value, and so does a map's value type when
// that is an interface{}.
//
// A field tagged `ackflow:"ignored,REASON"` is a key of the reference
// engine's format that ackflow accepts without acting on it (its value is
// checked against the field's type, so declare it `any` to take anything).
// Each such key present is returned as an entry of class ErrIgnored in the
// joined error, with REASON as its message, so that it is never accepted
// silently; DecodeNodeConfig sets these entries apart from the errors and
// reports them through Document.Ignored.
//
// An alias that refers to a value containing it, and aliases that would add
// more than MaxAliasExpansion values, are an ErrAlias error, and nothing is
// decoded.
func DecodeStrict(raw *yaml.Node, out any, path Path) error {
	ignored, err := decodeReport(raw, out, path)
	errs := make([]error, 0, len(ignored)+1)
	for _, k := range ignored {
		errs = append(errs, &Error{Path: k.Path, Line: k.Line, Column: k.Column, Msg: k.Reason, Err: ErrIgnored})
	}
	return errors.Join(append(errs, err)...)
}

// decodeReport is DecodeStrict that returns the keys tagged
// `ackflow:"ignored,..."` it met apart from the errors.
func decodeReport(raw *yaml.Node, out any, path Path) ([]IgnoredKey, error) {
	// A block from Parse passed this check already; one built elsewhere
	// may hold an alias inside its own value, or an alias bomb.
	var errs errorList
	if !checkTree(&errs, raw, path, false) {
		return nil, errs.finish("", nil)
	}
	return decodeChecked(raw, out, path)
}

// decodeChecked is decodeReport for a tree that passed checkTree.
func decodeChecked(raw *yaml.Node, out any, path Path) ([]IgnoredKey, error) {
	rv := reflect.ValueOf(out)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("config: DecodeStrict needs a non-nil pointer, got %T", out)
	}
	n := resolve(raw)
	if n == nil || isNull(n) {
		return nil, nil
	}
	var c checker
	c.value(n, rv.Type().Elem(), path, 0)
	if len(c.errs) == 0 {
		// The walk above checked every value with yaml's own decoding, so
		// this is expected to succeed; its errors are mapped anyway.
		if err := n.Decode(out); err != nil {
			c.errs = append(c.errs, convertDecodeError(err, n, nil, path)...)
		}
	}
	return c.ignored, c.errs.finish("", nil)
}

// checker walks a YAML value against a Go type: the errors it finds, and
// the keys accepted without effect (fields tagged `ackflow:"ignored,..."`).
type checker struct {
	errs    errorList
	ignored []IgnoredKey
}

var (
	yamlNodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteUnmarshaler = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// maxCheckDepth bounds the walk over self-referencing Go types (type T
// struct{ Next *T }) fed with deeply nested YAML.
const maxCheckDepth = 100

// value checks that n can be decoded into a value of type t, and that
// every mapping key along the way names a field. It decodes nothing into
// the caller's value: scalars are test-decoded into fresh values.
func (c *checker) value(n *yaml.Node, t reflect.Type, path Path, depth int) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return // any field may be null: yaml keeps scalars and zeroes pointers, maps and slices
	}
	if depth > maxCheckDepth {
		c.errs.add(n, ErrInvalidValue, path, "flatten the structure", "nesting is too deep")
		return
	}
	if t == yamlNodeType {
		return // raw on purpose: the field's owner reads it
	}
	if t.Kind() == reflect.Pointer && t.Elem() == yamlNodeType {
		// yaml.v3 decodes the mapping into the Node struct's own fields
		// and returns no error: the block would silently vanish.
		c.errs.add(n, ErrType, path, "declare the Go field as yaml.Node, not *yaml.Node",
			"the node's config type cannot hold this value: yaml.v3 does not fill *yaml.Node fields")
		return
	}
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(obsoleteUnmarshaler) ||
		(n.Kind == yaml.ScalarNode && pt.Implements(textUnmarshalerType)) {
		checkScalar(&c.errs, n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.value(n, t.Elem(), path, depth+1)
	case reflect.Interface:
		if t.NumMethod() > 0 {
			checkScalar(&c.errs, n, t, path)
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			checkScalar(&c.errs, n, t, path)
			return
		}
		c.structure(n, t, path, depth)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			checkScalar(&c.errs, n, t, path)
			return
		}
		seen := map[string]*yaml.Node{}
		eachPair(n, func(k, v *yaml.Node) {
			if dupKey(&c.errs, seen, k, path) {
				return
			}
			checkScalar(&c.errs, k, t.Key(), path.Key(k.Value))
			c.value(v, t.Elem(), path.Key(k.Value), depth+1)
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			checkScalar(&c.errs, n, t, path)
			return
		}
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			c.errs.add(n, ErrInvalidValue, path, fmt.Sprintf("write exactly %d items", t.Len()),
				"has %d items, want %d", len(n.Content), t.Len())
			return
		}
		for i, item := range n.Content {
			c.value(item, t.Elem(), path.Index(i), depth+1)
		}
	default:
		checkScalar(&c.errs, n, t, path)
	}
}

// structure checks a mapping against the fields of struct type t.
func (c *checker) structure(n *yaml.Node, t reflect.Type, path Path, depth int) {
	info := structFields(t)
	seen := map[string]*yaml.Node{}
	eachPair(n, func(k, v *yaml.Node) {
		if dupKey(&c.errs, seen, k, path) {
			return
		}
		if ft, ok := info.fields[k.Value]; ok {
			if reason, ok := info.ignored[k.Value]; ok {
				c.ignored = append(c.ignored, IgnoredKey{Path: path.Key(k.Value), Line: k.Line, Column: k.Column, Reason: reason})
			}
			c.value(v, ft, path.Key(k.Value), depth+1)
			return
		}
		switch {
		case info.inlineMap != nil:
			c.value(v, info.inlineMap.Elem(), path.Key(k.Value), depth+1)
		case info.open:
			// An inlined UnmarshalYAML type sees the whole mapping and
			// may accept any key: it has the last word.
		default:
			c.errs.add(k, ErrUnknownField, path.Key(k.Value),
				suggest(k.Value, info.names)+"allowed fields: "+strings.Join(info.names, ", "),
				"unknown field %q", k.Value)
		}
	})
	if info.open {
		checkScalar(&c.errs, n, t, path)
	}
}

// dupKey reports a key seen before in the same mapping. yaml.v3 refuses
// duplicates when decoding into maps but silently keeps the last one in some
// cases; a config where the same key is set twice is a mistake either way.
func dupKey(errs *errorList, seen map[string]*yaml.Node, k *yaml.Node, path Path) bool {
	if first, ok := seen[k.Value]; ok {
		errs.add(k, ErrDuplicate, path.Key(k.Value), "remove one of them",
			"key %q is set twice (first at line %d)", k.Value, first.Line)
		return true
	}
	seen[k.Value] = k
	return false
}

// eachPair calls f for each key and value of mapping n, in order. Merge keys
// (<<: *anchor) are expanded: their pairs come first, and keys written
// directly override them, as YAML specifies.
func eachPair(n *yaml.Node, f func(k, v *yaml.Node)) {
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && !isMerge(k) {
			own[k.Value] = true
		}
	}
	merged := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if !isMerge(k) {
			f(k, v)
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src == nil || src.Kind != yaml.MappingNode {
				continue // yaml's decoder reports a bad merge value
			}
			eachPair(src, func(mk, mv *yaml.Node) {
				if !own[mk.Value] && !merged[mk.Value] {
					merged[mk.Value] = true
					f(mk, mv)
				}
			})
		}
	}
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// checkScalar test-decodes n into a fresh value of type t with yaml's own
// rules, so that what is accepted here is exactly what Decode accepts.
func checkScalar(errs *errorList, n *yaml.Node, t reflect.Type, path Path) {
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		*errs = append(*errs, convertDecodeError(err, n, t, path)...)
	}
}

// convertDecodeError maps an error from yaml's decoder for value n to
// *Error values at path.
func convertDecodeError(err error, n *yaml.Node, t reflect.Type, path Path) []*Error {
	var out []*Error
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			out = append(out, typeError(msg, n, t, path))
		}
	default:
		walkErrors(err, func(e error) {
			ce, ok := e.(*Error)
			if !ok {
				ce = &Error{Msg: strings.TrimPrefix(e.Error(), "yaml: "), Err: ErrInvalidValue}
			} else {
				c := *ce // do not modify an error value the UnmarshalYAML method may keep
				ce = &c
			}
			if len(ce.Path.segs) == 0 {
				ce.Path = path
			}
			if ce.Line == 0 {
				setPos(ce, n)
			}
			out = append(out, ce)
		})
	}
	return out
}

// yamlTypeErr matches yaml.v3's "line 3: cannot unmarshal !!str `abc` into
// int" messages.
var yamlTypeErr = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+|!\\S*)(?: `(.*)`)? into (.+)$")

// typeError rewrites one yaml type error in the user's terms: what was
// written, what is wanted, and how to write it.
func typeError(msg string, n *yaml.Node, t reflect.Type, path Path) *Error {
	e := &Error{Path: path, Err: ErrType}
	setPos(e, n)
	m := yamlTypeErr.FindStringSubmatch(msg)
	if m == nil {
		e.Msg = strings.TrimPrefix(msg, "line ")
		if _, rest, ok := strings.Cut(e.Msg, ": "); ok {
			e.Msg = rest
		}
		return e
	}
	if line, err := strconv.Atoi(m[1]); err == nil && line > 0 && line != e.Line {
		e.Line, e.Column = line, 0
	}
	got := describeNode(n)
	if n.Kind != yaml.ScalarNode && m[3] != "" {
		got = m[3] // the offending value is somewhere inside n (yaml shortens it)
	}
	want, hint := describeWant(t, m[4])
	e.Msg = fmt.Sprintf("got %s, want %s", got, want)
	e.Hint = hint
	return e
}

// describeWant says in words what a value of type t looks like in YAML,
// and how to write one. yamlName (the type as yaml printed it) is the
// fallback when t is unknown.
func describeWant(t reflect.Type, yamlName string) (string, string) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return strings.TrimLeft(yamlName, "*"), ""
	case t == reflect.TypeFor[time.Duration]():
		return "a duration", durationHint
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false", "write true or false"
	case reflect.String:
		return "a string", "write text, quoted if it contains ': ' or starts with a special character"
	case reflect.Int, reflect.Int64:
		return "an integer", "write a whole number such as 100"
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "a non-negative integer", "write a whole number such as 100"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		hi := int64(1)<<(t.Bits()-1) - 1
		return fmt.Sprintf("an integer from %d to %d", -hi-1, hi), "write a whole number in that range"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("an integer from 0 to %d", uint64(1)<<t.Bits()-1), "write a whole number in that range"
	case reflect.Float32, reflect.Float64:
		return "a number", "write a number such as 0.5"
	case reflect.Struct, reflect.Map:
		return "a mapping", "write key: value pairs indented under this key"
	case reflect.Slice, reflect.Array:
		return "a list", "write a list: [a, b], or one '- item' per line"
	default:
		return t.String(), ""
	}
}

// fieldSet is what a struct type accepts as mapping keys.
type fieldSet struct {
	fields    map[string]reflect.Type
	ignored   map[string]string // key -> why ackflow accepts it without effect
	names     []string          // in declaration order, for hints
	inlineMap reflect.Type      // a ",inline" map takes any other key
	open      bool              // an inlined UnmarshalYAML struct may take any key
}

var fieldCache sync.Map // reflect.Type -> *fieldSet

// structFields returns the keys a struct accepts, following yaml.v3's rules.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{fields: map[string]reflect.Type{}, ignored: map[string]string{}}
	addStructFields(fs, t, 0)
	fieldCache.Store(t, fs)
	return fs
}

func addStructFields(fs *fieldSet, t reflect.Type, depth int) {
	if depth > 16 {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue // unexported
		}
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if inline := strings.Contains(","+flags+",", ",inline,"); inline {
			ft := f.Type
			if ft.Kind() == reflect.Map {
				fs.inlineMap = ft
				continue
			}
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct {
				continue
			}
			if reflect.PointerTo(ft).Implements(unmarshalerType) {
				fs.open = true
				continue
			}
			addStructFields(fs, ft, depth+1)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if _, dup := fs.fields[name]; !dup {
			fs.names = append(fs.names, name)
		}
		fs.fields[name] = f.Type
		if reason, ok := ignoredTag(f.Tag); ok {
			fs.ignored[name] = reason
		} else {
			delete(fs.ignored, name)
		}
	}
}
