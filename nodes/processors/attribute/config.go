package attribute

import (
	"errors"
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Config is the `config` block of a processor:attribute node, in the
// reference engine's keys (its attributes processor), with the
// Collector's from_attribute.
type Config struct {
	// ApplyTo lists the attribute domains the actions apply to: signal
	// (the items' own attributes), resource, scope. Default [signal].
	ApplyTo []string `yaml:"apply_to"`
	// Actions are applied in order to every attribute list of the chosen
	// domains. Default: none (the node forwards everything unchanged).
	Actions []Action `yaml:"actions"`
}

// Action is one entry of `actions`. Which keys it takes depends on Action:
//
//	insert, upsert, update  key, and value or from_attribute
//	delete                  key
//	rename                  source_key and destination_key (or key and new_key)
//	hash                    key, salt (default ""), algorithm (sha256, the default)
type Action struct {
	// Action is insert, upsert, update, delete, rename or hash.
	Action string `yaml:"action"`
	// Key is the attribute the action works on.
	Key string `yaml:"key"`
	// Value is the value of insert, upsert and update: a string, an int, a
	// double or a bool, written as a YAML scalar (the YAML type decides:
	// quote "1" for a string) or typed, as {string: "1"}, {int: 1},
	// {double: 1.5} or {bool: true}.
	Value yaml.Node `yaml:"value"`
	// FromAttribute takes the value of insert, upsert and update from
	// another attribute of the same list, as in the Collector; nothing is
	// done where that attribute is absent.
	FromAttribute string `yaml:"from_attribute"`
	// SourceKey and DestinationKey are rename's keys (the reference
	// engine's spelling).
	SourceKey      string `yaml:"source_key"`
	DestinationKey string `yaml:"destination_key"`
	// NewKey is rename's destination when the source is given as key.
	NewKey string `yaml:"new_key"`
	// Salt is prepended to the value before hashing.
	Salt string `yaml:"salt"`
	// Algorithm is the hash function: sha256 (the default and only one).
	Algorithm string `yaml:"algorithm"`
}

// Domain names of apply_to.
const (
	DomainSignal   = "signal"
	DomainResource = "resource"
	DomainScope    = "scope"
)

// DefaultApplyTo is the reference engine's default domain list.
var DefaultApplyTo = []string{DomainSignal}

// domainBit returns the attribute domain named d in apply_to.
func domainBit(d string) (otlpwire.Domains, bool) {
	switch d {
	case DomainSignal:
		return otlpwire.ItemAttrs, true
	case DomainResource:
		return otlpwire.ResourceAttrs, true
	case DomainScope:
		return otlpwire.ScopeAttrs, true
	}
	return 0, false
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{ApplyTo: append([]string(nil), DefaultApplyTo...)}
}

// actionKind is what an action does.
type actionKind uint8

const (
	actInsert actionKind = iota
	actUpsert
	actUpdate
	actDelete
	actRename
	actHash
	numActions
)

var actionNames = [numActions]string{"insert", "upsert", "update", "delete", "rename", "hash"}

func (k actionKind) String() string {
	if k < numActions {
		return actionNames[k]
	}
	return "action(" + strconv.Itoa(int(k)) + ")"
}

// actionList is the hint listing the supported actions.
const actionList = "insert, upsert, update, delete, rename, hash"

// unsupportedAction says whether action is one of the Collector's
// attributes processor actions that the reference engine accepts and
// ignores. ackflow refuses them rather than silently doing nothing.
func unsupportedAction(action string) bool { return action == "extract" || action == "convert" }

// action is a validated Action.
type action struct {
	kind   actionKind
	key    string         // the attribute; rename's source
	newKey string         // rename's destination
	from   string         // from_attribute, for insert, upsert and update
	value  otlpwire.Value // the literal of insert, upsert and update
	pvalue pcommon.Value  // the same, for the pdata path
	salt   []byte
}

// settings is a validated Config.
type settings struct {
	domains otlpwire.Domains
	actions []action
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path) naming the key and the fix, joined.
func (c *Config) Validate(p config.Path) error {
	_, err := c.settings(p)
	return err
}

// settings checks c and returns it in the form the node uses.
func (c *Config) settings(p config.Path) (settings, error) {
	var s settings
	var errs []error
	if len(c.ApplyTo) == 0 {
		errs = append(errs, config.Errorf(p.Key("apply_to"),
			"list at least one of signal, resource, scope, or remove the key for the default [signal]",
			"no attribute domain"))
	}
	for i, d := range c.ApplyTo {
		bit, ok := domainBit(d)
		switch {
		case !ok:
			errs = append(errs, config.Errorf(p.Key("apply_to").Index(i), "use signal, resource or scope",
				"unknown attribute domain %q", d))
		case s.domains&bit != 0:
			e := config.Errorf(p.Key("apply_to").Index(i), "list each domain once", "domain %q is listed twice", d)
			e.Err = config.ErrDuplicate
			errs = append(errs, e)
		}
		s.domains |= bit
	}
	for i := range c.Actions {
		a, err := c.Actions[i].check(p.Key("actions").Index(i))
		errs = append(errs, err)
		s.actions = append(s.actions, a)
	}
	return s, errors.Join(errs...)
}

// check validates one action at path p.
func (a *Action) check(p config.Path) (action, error) {
	var errs []error
	bad := func(key, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(p.Key(key), hint, format, args...))
	}
	var out action
	kind, known := actionKind(0), false
	for k, name := range actionNames {
		if a.Action == name {
			kind, known = actionKind(k), true
		}
	}
	switch {
	case a.Action == "":
		e := config.Errorf(p.Key("action"), "set action to one of: "+actionList, "action is required")
		e.Err = config.ErrMissing
		return out, e
	case unsupportedAction(a.Action):
		return out, config.Errorf(p.Key("action"), "remove it; supported actions: "+actionList,
			"action %q is not supported (the reference engine ignores it; ackflow refuses it rather than do nothing)", a.Action)
	case !known:
		return out, config.Errorf(p.Key("action"), "use one of: "+actionList, "unknown action %q", a.Action)
	}
	out.kind = kind

	// Keys that do not belong to this action.
	takes := map[string]bool{"key": kind != actRename}
	switch kind {
	case actInsert, actUpsert, actUpdate:
		takes["value"], takes["from_attribute"] = true, true
	case actRename:
		takes["key"], takes["source_key"], takes["destination_key"], takes["new_key"] = true, true, true, true
	case actHash:
		takes["salt"], takes["algorithm"] = true, true
	}
	for _, f := range []struct {
		key string
		set bool
	}{
		{"value", a.Value.Kind != 0}, {"from_attribute", a.FromAttribute != ""},
		{"source_key", a.SourceKey != ""}, {"destination_key", a.DestinationKey != ""},
		{"new_key", a.NewKey != ""}, {"salt", a.Salt != ""}, {"algorithm", a.Algorithm != ""},
	} {
		if f.set && !takes[f.key] {
			bad(f.key, "remove it: "+a.Action+" takes "+actionKeys(kind), "%s does not apply to %s", f.key, a.Action)
		}
	}

	switch kind {
	case actRename:
		out.key, out.newKey = a.renameKeys(p, bad)
	default:
		out.key = a.Key
		if a.Key == "" {
			bad("key", "name the attribute the action works on", "key is required for %s", a.Action)
		}
	}
	switch kind {
	case actInsert, actUpsert, actUpdate:
		switch {
		case a.Value.Kind != 0 && a.FromAttribute != "":
			bad("from_attribute", "keep one of value and from_attribute", "value and from_attribute are both set")
		case a.FromAttribute != "":
			out.from = a.FromAttribute
		case a.Value.Kind == 0:
			bad("value", "give the value to "+a.Action+" (a string, int, double or bool), or from_attribute",
				"value is required for %s", a.Action)
		default:
			v, err := literal(&a.Value, p.Key("value"))
			if err != nil {
				errs = append(errs, err)
			}
			out.value, out.pvalue = v, pdataValue(v)
		}
	case actHash:
		if a.Algorithm != "" && a.Algorithm != "sha256" {
			bad("algorithm", "use sha256, or remove the key", "unknown hash algorithm %q", a.Algorithm)
		}
		out.salt = []byte(a.Salt)
	}
	return out, errors.Join(errs...)
}

// renameKeys returns rename's source and destination, accepting the
// reference engine's source_key/destination_key and key/new_key.
func (a *Action) renameKeys(p config.Path, bad func(key, hint, format string, args ...any)) (from, to string) {
	const hint = "give source_key and destination_key (or key and new_key)"
	if a.SourceKey != "" && a.Key != "" {
		bad("key", "keep one of source_key and key", "source_key and key are both set")
	}
	if a.DestinationKey != "" && a.NewKey != "" {
		bad("new_key", "keep one of destination_key and new_key", "destination_key and new_key are both set")
	}
	from, to = cmpOr(a.SourceKey, a.Key), cmpOr(a.DestinationKey, a.NewKey)
	if from == "" {
		bad("source_key", hint, "source_key is required for rename")
	}
	if to == "" {
		bad("destination_key", hint, "destination_key is required for rename")
	}
	if from != "" && from == to {
		bad("destination_key", "rename to another key, or remove the action", "renames %q to itself", from)
	}
	return from, to
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// actionKeys lists the keys action kind takes, for hints.
func actionKeys(kind actionKind) string {
	switch kind {
	case actInsert, actUpsert, actUpdate:
		return "key, and value or from_attribute"
	case actRename:
		return "source_key and destination_key"
	case actHash:
		return "key, salt and algorithm"
	}
	return "key"
}

// literal reads an action's value: a YAML scalar, whose type decides, or a
// typed mapping such as {int: 5}.
func literal(n *yaml.Node, p config.Path) (otlpwire.Value, error) {
	const hint = "write a string, int, double or bool, e.g. value: prod, value: 5, or a typed value such as {string: \"5\"}"
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str", "!!timestamp": // a date stays the text it was written as
			return strValue(n.Value), nil
		case "!!int":
			return typed(n, "int", p)
		case "!!float":
			return typed(n, "double", p)
		case "!!bool":
			return typed(n, "bool", p)
		case "!!null":
			e := config.Errorf(p, hint, "value is empty")
			e.Err = config.ErrMissing
			return otlpwire.Value{}, e
		default:
			return otlpwire.Value{}, config.Errorf(p, hint, "values of YAML type %s are not supported", tag)
		}
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return otlpwire.Value{}, config.Errorf(p, hint, "a typed value has exactly one key (string, int, double or bool), got %d", len(n.Content)/2)
		}
		k, v := n.Content[0].Value, n.Content[1]
		switch k {
		case "string", "int", "double", "bool":
		default:
			return otlpwire.Value{}, config.Errorf(p.Key(k), hint, "unknown value type %q", k)
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			return otlpwire.Value{}, config.Errorf(p.Key(k), hint, "a %s value must be a non-empty scalar", k)
		}
		if k == "string" {
			return strValue(v.Value), nil
		}
		return typed(v, k, p.Key(k))
	}
	return otlpwire.Value{}, config.Errorf(p, hint, "lists and maps are not supported as values")
}

func strValue(s string) otlpwire.Value {
	return otlpwire.Value{Type: otlpwire.ValueStr, Bytes: []byte(s)}
}

// typed parses the scalar n as a value of type typ (int, double or bool).
func typed(n *yaml.Node, typ string, p config.Path) (otlpwire.Value, error) {
	switch typ {
	case "int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return otlpwire.Value{}, config.Errorf(p, "write a whole number between -2^63 and 2^63-1", "%q is not a 64-bit int", n.Value)
		}
		return otlpwire.Value{Type: otlpwire.ValueInt, Num: uint64(i)}, nil
	case "double":
		var f float64
		if err := n.Decode(&f); err != nil {
			return otlpwire.Value{}, config.Errorf(p, "write a number such as 1.5", "%q is not a double", n.Value)
		}
		return otlpwire.Value{Type: otlpwire.ValueDouble, Num: math.Float64bits(f)}, nil
	default:
		var b bool
		if err := n.Decode(&b); err != nil {
			return otlpwire.Value{}, config.Errorf(p, "write true or false", "%q is not a bool", n.Value)
		}
		v := otlpwire.Value{Type: otlpwire.ValueBool}
		if b {
			v.Num = 1
		}
		return v, nil
	}
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
