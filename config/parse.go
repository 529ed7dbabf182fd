package config

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Parse reads an otel_dataflow/v1 document and runs every check that needs
// no knowledge of node types (see the package doc). file is only used in
// error messages.
//
// On failure it returns nil and all the errors found, joined and sorted by
// position; each is an *Error (see Errors). Node `config` blocks are not
// looked into: Document.Validate does that.
func Parse(file string, data []byte) (*Document, error) {
	d, errs := parse(file, data)
	if err := errs.finish(file, rootOf(d)); err != nil {
		return nil, err
	}
	return d, nil
}

func rootOf(d *Document) *yaml.Node {
	if d == nil {
		return nil
	}
	return d.root
}

// parse builds as much of the document as it can, so that Load can still
// validate the node configs of a document with structural errors. The
// document is nil only when the YAML itself is unreadable.
func parse(file string, data []byte) (*Document, errorList) {
	var errs errorList
	if len(data) > MaxFileSize {
		errs = append(errs, tooLarge(file, strconv.Itoa(len(data))+" bytes"))
		return nil, errs
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		errs.addErr(syntaxError(file, err), Path{})
		return nil, errs
	}
	// Before anything follows an alias: an alias inside its own value
	// would make every walk endless, and nested aliases can expand a small
	// file without bound. Duplicate keys go too, so that each is reported
	// once and not again through its consequences.
	if !checkTree(&errs, &root, Path{}, true) {
		return nil, errs
	}
	// A second document (after ---) would otherwise be ignored without a
	// word, and the user would wonder why their pipeline never started.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		start := &yaml.Node{Line: extra.Line, Column: extra.Column}
		if err != nil {
			start = nil
		}
		errs.add(start, ErrSyntax, Path{}, "keep one document per file: remove the --- separator and what follows, or merge it into the first document",
			"the file holds more than one YAML document")
	}
	top := resolve(&root)
	d := &Document{File: file, root: &root}
	if top == nil || top.Kind == 0 || isNull(top) {
		start := &yaml.Node{Line: 1, Column: 1} // the whole file is at fault: point at its start
		errs.add(start, ErrMissing, Path{}, "start with `version: otel_dataflow/v1` and a `groups:` block", "the document is empty")
		return d, errs
	}
	if top.Kind != yaml.MappingNode {
		errs.add(top, ErrType, Path{}, "start with `version: otel_dataflow/v1` and a `groups:` block",
			"the document is %s, want a mapping", describeNode(top))
		return d, errs
	}
	p := &parser{errs: &errs, ignored: &d.ignored}
	fields := p.mapping(top, Path{}, ignoredTop, "version", "engine", "policies", "groups")

	p.version(d, top, fields["version"])
	p.engine(d, fields["engine"])
	d.Policies = p.policies(fields["policies"].val, Path{}.Key("policies"))
	p.groups(d, top, fields["groups"])
	return d, errs
}

// parser holds the error list, and the list of keys accepted without
// effect, while the document is walked.
type parser struct {
	errs    *errorList
	ignored *[]IgnoredKey
}

// ignore records a key (or value) accepted without effect at path.
func (p *parser) ignore(path Path, reason string) {
	*p.ignored = append(*p.ignored, IgnoredKey{Path: path, Reason: reason})
}

// entry is one key of a mapping with its value.
type entry struct {
	key, val *yaml.Node
}

// mapping checks that n is a mapping whose keys are all in allowed or in
// ignored (keys of the reference engine accepted without effect, with
// why), and returns the allowed ones present. A missing or null n is an
// empty mapping.
func (p *parser) mapping(n *yaml.Node, path Path, ignored map[string]string, allowed ...string) map[string]entry {
	out := map[string]entry{}
	entries, _ := p.entries(n, path)
	for _, e := range entries {
		k := e.key.Value
		if reason, ok := ignored[k]; ok {
			*p.ignored = append(*p.ignored, IgnoredKey{Path: path.Key(k), Line: e.key.Line, Column: e.key.Column, Reason: reason})
			continue
		}
		if !slices.Contains(allowed, k) {
			known := append(slices.Clone(allowed), slices.Sorted(maps.Keys(ignored))...)
			p.errs.add(e.key, ErrUnknownField, path.Key(k),
				suggest(k, known)+"allowed fields: "+strings.Join(known, ", "), "unknown field %q", k)
			continue
		}
		out[k] = e
	}
	return out
}

// entries returns the pairs of mapping n in document order, reporting
// duplicate keys. A missing or null n has none; any other non-mapping is a
// type error, and ok is false so that the caller does not also report the
// mapping as empty.
func (p *parser) entries(n *yaml.Node, path Path) (_ []entry, ok bool) {
	n = resolve(n)
	if n == nil || n.Kind == 0 || isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.errs.add(n, ErrType, path, "write key: value pairs indented under this key",
			"got %s, want a mapping", describeNode(n))
		return nil, false
	}
	var out []entry
	seen := map[string]*yaml.Node{}
	eachPair(n, func(k, v *yaml.Node) {
		if !dupKey(p.errs, seen, k, path) {
			out = append(out, entry{k, v})
		}
	})
	return out, true
}

// decode decodes a block strictly into out (a pointer to a raw struct),
// collecting its errors. On error it still keeps what yaml can read, so
// that the checks that follow run and one pass reports as much as possible;
// a top-level field whose value was wrong is reset to zero rather than kept
// half-decoded, so that it cannot cause a second, misleading error.
func (p *parser) decode(n *yaml.Node, out any, path Path) {
	ignored, err := decodeChecked(n, out, path) // parse ran checkTree on the whole document
	*p.ignored = append(*p.ignored, ignored...)
	if err == nil {
		return
	}
	p.errs.addErr(err, path)
	v := reflect.ValueOf(out).Elem()
	rn := resolve(n)
	if rn == nil || v.Kind() != reflect.Struct {
		v.SetZero()
		return
	}
	_ = rn.Decode(out) // best effort: its errors are the ones reported above
	for _, e := range Errors(err) {
		if errors.Is(e, ErrUnknownField) || errors.Is(e, ErrDuplicate) {
			continue // the other values are intact
		}
		if len(e.Path.segs) <= len(path.segs) || !e.Path.hasPrefix(path) {
			v.SetZero()
			return
		}
		if f := fieldByKey(v, e.Path.segs[len(path.segs)].key); f.IsValid() {
			f.SetZero()
		}
	}
}

// fieldByKey returns the field of struct v tagged `yaml:"key"`.
func fieldByKey(v reflect.Value, key string) reflect.Value {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name == key {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

func (p *parser) version(d *Document, top *yaml.Node, e entry) {
	path := Path{}.Key("version")
	hint := "set `version: " + Version + "` at the top of the file"
	switch {
	case e.val == nil || isNull(e.val):
		p.errs.add(top, ErrVersion, path, hint, "version is missing")
	case e.val.Kind != yaml.ScalarNode:
		p.errs.add(e.val, ErrVersion, path, hint, "version is %s, want %q", describeNode(e.val), Version)
	case e.val.Value != Version:
		p.errs.add(e.val, ErrVersion, path, hint, "unsupported version %q", e.val.Value)
	default:
		d.Version = Version
	}
}

func (p *parser) groups(d *Document, top *yaml.Node, e entry) {
	path := Path{}.Key("groups")
	groups, ok := p.entries(e.val, path)
	if len(groups) == 0 && ok {
		at := e.val
		if at == nil {
			at = top
		}
		p.errs.add(at, ErrMissing, path, "define at least one group with a pipeline: groups: {default: {pipelines: {main: ...}}}",
			"no groups defined")
		return
	}
	for _, ge := range groups {
		g := &Group{Name: ge.key.Value}
		gp := path.Key(g.Name)
		d.Groups = append(d.Groups, g)
		if v := resolve(ge.val); v != nil && v.Kind != yaml.MappingNode && !isNull(v) {
			p.errs.add(v, ErrType, gp, "write the group as a mapping with a pipelines: block",
				"got %s, want a group", describeNode(v))
			continue
		}
		fields := p.mapping(ge.val, gp, ignoredGroup, "policies", "pipelines")
		g.Policies = p.policies(fields["policies"].val, gp.Key("policies"))
		pipes, ok := p.entries(fields["pipelines"].val, gp.Key("pipelines"))
		if len(pipes) == 0 && ok {
			p.errs.add(ge.val, ErrMissing, gp.Key("pipelines"), "add a pipelines: block with at least one pipeline, or remove the group",
				"group %q has no pipelines", g.Name)
		}
		for _, pe := range pipes {
			g.Pipelines = append(g.Pipelines, p.pipeline(g.Name, pe, gp.Key("pipelines").Key(pe.key.Value)))
		}
	}
}

func (p *parser) pipeline(group string, e entry, path Path) *Pipeline {
	pl := &Pipeline{Group: group, Name: e.key.Value}
	if v := resolve(e.val); v != nil && v.Kind != yaml.MappingNode && !isNull(v) {
		p.errs.add(v, ErrType, path, "write the pipeline as a mapping with nodes: and connections: blocks",
			"got %s, want a pipeline", describeNode(v))
		return pl
	}
	fields := p.mapping(e.val, path, ignoredPipeline, "policies", "nodes", "connections")
	pl.Policies = p.policies(fields["policies"].val, path.Key("policies"))

	nodes, ok := p.entries(fields["nodes"].val, path.Key("nodes"))
	if len(nodes) == 0 && ok {
		p.errs.add(e.val, ErrMissing, path.Key("nodes"), "add a nodes: block with at least a receiver and an exporter",
			"pipeline %q has no nodes", pl.Name)
	}
	for _, ne := range nodes {
		if n := p.node(ne, path.Key("nodes").Key(ne.key.Value)); n != nil {
			pl.Nodes = append(pl.Nodes, n)
		}
	}
	pl.index()

	conns := resolve(fields["connections"].val)
	switch {
	case conns == nil || isNull(conns):
	case conns.Kind != yaml.SequenceNode:
		p.errs.add(conns, ErrType, path.Key("connections"), "write a list: - { from: a, to: b }",
			"got %s, want a list of connections", describeNode(conns))
	default:
		for i, c := range conns.Content {
			if conn := p.connection(c, path.Key("connections").Index(i)); conn != nil {
				pl.Connections = append(pl.Connections, conn)
			}
		}
	}
	checkGraph(p.errs, pl, resolve(e.val))
	return pl
}
