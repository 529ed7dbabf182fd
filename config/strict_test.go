package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// strictConfig exercises DecodeStrict's rules: tags, lower-cased names,
// inline structs, nested lists, maps, pointers and custom unmarshalers.
type strictConfig struct {
	AwaitAck     string            `yaml:"await_ack"`
	MaxInflight  int               `yaml:"max_inflight"`
	Ratio        float64           `yaml:"ratio"`
	Level        uint8             `yaml:"level"`
	Enabled      *bool             `yaml:"enabled"`
	Destinations []destination     `yaml:"destinations"`
	Headers      map[string]string `yaml:"headers"`
	Limits       map[string]Size   `yaml:"limits"`
	Extra        any               `yaml:"extra"`
	Raw          yaml.Node         `yaml:"raw"`
	Ignored      string            `yaml:"-"`
	Common       `yaml:",inline"`
	Untagged     string
}

type Common struct {
	Timeout Duration `yaml:"timeout"`
}

// decodeAt parses src and decodes the value under its top-level key "config"
// into out, at path nodes.n.config.
func decodeAt(t *testing.T, src string, out any) error {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	raw := child(resolve(&doc), segment{key: "config"})
	return DecodeStrict(raw, out, Path{}.Key("nodes").Key("n").Key("config"))
}

func TestDecodeStrict(t *testing.T) {
	src := `config:
  await_ack: all
  max_inflight: 5
  ratio: 0.25
  level: 3
  enabled: false
  timeout: 2s
  untagged: yes-lowercased
  destinations:
    - { port: a, primary: true, timeout: 1s }
    - port: b
      fallback_for: a
  headers: { x-tenant: t1 }
  limits: { disk: 10GiB }
  extra: { anything: [1, 2] }
  raw: { kept: as-is }
`
	cfg := strictConfig{AwaitAck: "primary", MaxInflight: 10000, Ignored: "default"}
	if err := decodeAt(t, src, &cfg); err != nil {
		t.Fatalf("unexpected error:\n%v", err)
	}
	switch {
	case cfg.AwaitAck != "all", cfg.MaxInflight != 5, cfg.Ratio != 0.25, cfg.Level != 3:
		t.Errorf("scalars: %+v", cfg)
	case cfg.Enabled == nil || *cfg.Enabled:
		t.Errorf("enabled: %v", cfg.Enabled)
	case time.Duration(cfg.Timeout) != 2*time.Second || cfg.Untagged != "yes-lowercased":
		t.Errorf("inline/untagged: %+v", cfg)
	case len(cfg.Destinations) != 2 || cfg.Destinations[1].FallbackFor != "a" || time.Duration(cfg.Destinations[0].Timeout) != time.Second:
		t.Errorf("destinations: %+v", cfg.Destinations)
	case cfg.Headers["x-tenant"] != "t1" || cfg.Limits["disk"] != 10<<30:
		t.Errorf("maps: %+v %+v", cfg.Headers, cfg.Limits)
	case cfg.Raw.Kind != yaml.MappingNode || cfg.Extra == nil || cfg.Ignored != "default":
		t.Errorf("raw/extra/ignored: %+v", cfg)
	}
}

func TestDecodeStrictKeepsDefaults(t *testing.T) {
	cfg := strictConfig{AwaitAck: "primary", MaxInflight: 10000}
	if err := decodeAt(t, "config: { ratio: 1 }", &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.AwaitAck != "primary" || cfg.MaxInflight != 10000 || cfg.Ratio != 1 {
		t.Errorf("defaults lost: %+v", cfg)
	}
	for _, src := range []string{"other: 1", "config: ~"} {
		if err := decodeAt(t, src, &cfg); err != nil || cfg.MaxInflight != 10000 {
			t.Errorf("%q: %v, %+v", src, err, cfg)
		}
	}
}

func TestDecodeStrictErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // the full text of the first error
		class   error
	}{
		{
			name: "unknown field in a list item",
			yaml: `config:
  destinations:
    - { port: a }
    - { port: b, fallbak_for: a }`,
			wantErr: `<config>:4:18: nodes.n.config.destinations[1].fallbak_for: unknown field "fallbak_for" (hint: did you mean "fallback_for"? allowed fields: port, primary, timeout, fallback_for)`,
			class:   ErrUnknownField,
		},
		{
			name:    "unknown field lists inline and untagged fields",
			yaml:    "config:\n  colour: red",
			wantErr: `<config>:2:3: nodes.n.config.colour: unknown field "colour" (hint: allowed fields: await_ack, max_inflight, ratio, level, enabled, destinations, headers, limits, extra, raw, timeout, untagged)`,
			class:   ErrUnknownField,
		},
		{
			name:    "string where an integer goes",
			yaml:    "config:\n  max_inflight: lots",
			wantErr: `<config>:2:17: nodes.n.config.max_inflight: got "lots", want an integer (hint: write a whole number such as 100)`,
			class:   ErrType,
		},
		{
			name:    "integer out of range",
			yaml:    "config:\n  level: 300",
			wantErr: `<config>:2:10: nodes.n.config.level: got 300, want an integer from 0 to 255 (hint: write a whole number in that range)`,
			class:   ErrType,
		},
		{
			name:    "mapping where a list goes",
			yaml:    "config:\n  destinations: { port: a }",
			wantErr: `<config>:2:17: nodes.n.config.destinations: got a mapping, want a list (hint: write a list: [a, b], or one '- item' per line)`,
			class:   ErrType,
		},
		{
			name:    "scalar where a mapping goes",
			yaml:    "config:\n  headers: x",
			wantErr: `<config>:2:12: nodes.n.config.headers: got "x", want a mapping (hint: write key: value pairs indented under this key)`,
			class:   ErrType,
		},
		{
			name:    "not a boolean",
			yaml:    "config:\n  enabled: maybe",
			wantErr: `<config>:2:12: nodes.n.config.enabled: got "maybe", want true or false (hint: write true or false)`,
			class:   ErrType,
		},
		{
			name:    "custom unmarshaler error in a map value",
			yaml:    "config:\n  limits: { disk: 10 parsecs }",
			wantErr: `<config>:2:19: nodes.n.config.limits.disk: invalid size "10 parsecs": unknown unit "parsecs" (hint: use bytes or a unit`,
			class:   ErrInvalidValue,
		},
		{
			name:    "duplicate key",
			yaml:    "config:\n  ratio: 1\n  ratio: 2",
			wantErr: `<config>:3:3: nodes.n.config.ratio: key "ratio" is set twice (first at line 2) (hint: remove one of them)`,
			class:   ErrDuplicate,
		},
		{
			name:    "block is not a mapping",
			yaml:    "config: [1, 2]",
			wantErr: `<config>:1:9: nodes.n.config: got a list, want a mapping`,
			class:   ErrType,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg strictConfig
			err := decodeAt(t, tt.yaml, &cfg)
			errs := Errors(err)
			if len(errs) == 0 {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			if !strings.HasPrefix(errs[0].Error(), tt.wantErr) {
				t.Errorf("got  %s\nwant %s", errs[0], tt.wantErr)
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("error does not wrap %v", tt.class)
			}
		})
	}
}

func TestDecodeStrictReportsEveryError(t *testing.T) {
	src := `config:
  await_ack: all
  max_inflght: 5
  ratio: high
  destinations:
    - { port: a, timeout: never }
    - { port: b, primary: yes please }
  timeout: 5 parsecs
`
	var cfg strictConfig
	err := decodeAt(t, src, &cfg)
	want := []string{
		`<config>:3:3: nodes.n.config.max_inflght: unknown field`,
		`<config>:4:10: nodes.n.config.ratio: got "high", want a number`,
		`<config>:6:27: nodes.n.config.destinations[0].timeout: invalid duration "never"`,
		`<config>:7:27: nodes.n.config.destinations[1].primary: got "yes please", want true or false`,
		`<config>:8:12: nodes.n.config.timeout: invalid duration "5 parsecs"`,
	}
	errs := Errors(err)
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, errs[i], w)
		}
	}
}

func TestDecodeStrictInlineMapAcceptsAnyKey(t *testing.T) {
	type open struct {
		Name string         `yaml:"name"`
		Rest map[string]int `yaml:",inline"`
	}
	var cfg open
	if err := decodeAt(t, "config: { name: x, a: 1, b: 2 }", &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "x" || cfg.Rest["a"] != 1 || cfg.Rest["b"] != 2 {
		t.Errorf("got %+v", cfg)
	}
	err := decodeAt(t, "config: { name: x, a: one }", &cfg)
	if err == nil || !strings.Contains(err.Error(), `nodes.n.config.a: got "one", want an integer`) {
		t.Errorf("inline map values are still type-checked: %v", err)
	}
}

func TestDecodeStrictNeedsAPointer(t *testing.T) {
	var cfg strictConfig
	for _, out := range []any{nil, cfg, (*strictConfig)(nil)} {
		if err := DecodeStrict(&yaml.Node{Kind: yaml.MappingNode}, out, Path{}); err == nil {
			t.Errorf("DecodeStrict(%T) succeeded", out)
		}
	}
}

func TestDecodeStrictRefusesPointerToYAMLNode(t *testing.T) {
	var cfg struct {
		Raw *yaml.Node `yaml:"raw"`
	}
	err := decodeAt(t, "config: { raw: { a: 1 } }", &cfg)
	if err == nil || !strings.Contains(err.Error(), "declare the Go field as yaml.Node") {
		t.Errorf("got %v", err)
	}
}
