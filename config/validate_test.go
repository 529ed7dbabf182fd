package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

var errWidget = errors.New("widget")

// fakeTypes is a registry of node types for tests; each validator decodes
// its block the way a node package would.
type fakeRegistry map[string]func(n *Node) error

func (r fakeRegistry) Known(typeName string) bool   { _, ok := r[typeName]; return ok }
func (r fakeRegistry) ValidateConfig(n *Node) error { return r[n.Type](n) }
func (r fakeRegistry) Names() []string              { return slices.Collect(maps.Keys(r)) }

// fanoutConfig mirrors the fan-out processor's config for tests.
type fanoutConfig struct {
	AwaitAck     string        `yaml:"await_ack"`
	MaxInflight  int           `yaml:"max_inflight"`
	Destinations []destination `yaml:"destinations"`
}

type destination struct {
	Port        string   `yaml:"port"`
	Primary     bool     `yaml:"primary"`
	Timeout     Duration `yaml:"timeout"`
	FallbackFor string   `yaml:"fallback_for"`
}

func (c *fanoutConfig) Validate(p Path) error {
	var errs []error
	ports := map[string]bool{}
	for _, d := range c.Destinations {
		ports[d.Port] = true
	}
	for i, d := range c.Destinations {
		if d.FallbackFor != "" && (!ports[d.FallbackFor] || d.FallbackFor == d.Port) {
			errs = append(errs, Errorf(p.Key("destinations").Index(i).Key("fallback_for"),
				"fallback_for must name the port of another destination",
				"names no destination %q", d.FallbackFor))
		}
	}
	return errors.Join(errs...)
}

// strictOnly returns a validator that only decodes into a fresh T.
func strictOnly[T any]() func(n *Node) error {
	return func(n *Node) error {
		var cfg T
		return DecodeStrict(n.Config, &cfg, n.Path.Key("config"))
	}
}

func fakeTypes() fakeRegistry {
	type otlpReceiver struct {
		Protocols struct {
			GRPC *struct {
				ListeningAddr string `yaml:"listening_addr"`
			} `yaml:"grpc"`
			HTTP *struct {
				ListeningAddr string `yaml:"listening_addr"`
			} `yaml:"http"`
		} `yaml:"protocols"`
		WaitForResult *bool `yaml:"wait_for_result"`
	}
	type otlpExporter struct {
		GRPCEndpoint string   `yaml:"grpc_endpoint"`
		Timeout      Duration `yaml:"timeout"`
	}
	return fakeRegistry{
		"receiver:otlp":      strictOnly[otlpReceiver](),
		"exporter:otlp_grpc": strictOnly[otlpExporter](),
		"exporter:noop":      strictOnly[struct{}](),
		"processor:batch":    strictOnly[struct{}](),
		"processor:fanout": func(n *Node) error {
			cfg := fanoutConfig{AwaitAck: "primary", MaxInflight: 10000}
			p := n.Path.Key("config")
			if err := DecodeStrict(n.Config, &cfg, p); err != nil {
				return err
			}
			return cfg.Validate(p)
		},
		"processor:plain_error": func(*Node) error { return fmt.Errorf("the widget is cross: %w", errWidget) },
	}
}

func TestLoadErrors(t *testing.T) {
	const fan = "groups.g.pipelines.p.nodes.fan"
	fanNodes := func(cfg string) string {
		return pipe(`
in: { type: receiver:otlp }
fan:
  type: processor:fanout
  outputs: [primary, backup]
  config:
`+indent(cfg, 4)+`
out: { type: exporter:noop }`, `
- { from: in, to: fan }
- { from: 'fan["primary"]', to: out }
- { from: 'fan["backup"]', to: out }`)
	}
	tests := []errorCase{
		{
			name:    "unknown node type lists the known ones",
			yaml:    pipe(basicNodes+"x: { type: processor:fanot }\n", basicConns),
			wantErr: nodes + `x.type: unknown node type "processor:fanot"`,
			hint:    `did you mean "processor:fanout"? known types: exporter:noop, exporter:otlp_grpc, processor:batch,`,
			class:   ErrUnknownNodeType,
		},
		{
			name: "node validator error made with Errorf gets its line from the path",
			yaml: fanNodes(`
destinations:
  - { port: primary, primary: true }
  - { port: backup, fallback_for: x }`),
			wantErr: fan + `.config.destinations[1].fallback_for: names no destination "x"`,
			hint:    "fallback_for must name the port of another destination",
			class:   ErrInvalidValue,
		},
		{
			name: "unknown field inside a node config",
			yaml: fanNodes(`
destinations:
  - { port: primary, primary: true }
  - { port: backup, fallbak_for: primary }`),
			wantErr: fan + `.config.destinations[1].fallbak_for: unknown field "fallbak_for"`,
			hint:    `did you mean "fallback_for"? allowed fields: port, primary, timeout, fallback_for`,
			class:   ErrUnknownField,
		},
		{
			name:    "bad duration inside a node config",
			yaml:    fanNodes("destinations: [{ port: primary, timeout: soon }]"),
			wantErr: fan + `.config.destinations[0].timeout: invalid duration "soon"`,
			hint:    "use a Go duration such as 200ms, 5s or 1h30m",
			class:   ErrInvalidValue,
		},
		{
			name:    "plain error from a validator is placed at the node's config",
			yaml:    pipe(basicNodes+"w: { type: processor:plain_error, config: { a: 1 } }\n", basicConns),
			wantErr: nodes + "w.config: the widget is cross",
			hint:    "",
			class:   errWidget,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Load("test.yaml", []byte(tt.yaml), fakeTypes())
			if d != nil {
				t.Error("Load returned a document along with an error")
			}
			requireError(t, err, tt)
		})
	}
}

func TestLoadReportsStructuralAndNodeErrorsTogether(t *testing.T) {
	src := pipe(`
in: { type: receiver:otlp, config: { protocols: { grcp: {} } } }
fan: { type: processor:fanout, outputs: [a], config: { max_inflight: many } }
out: { type: exporter:nope }`, `
- { from: in, to: fan }
- { from: 'fan["b"]', to: out }`)
	_, err := Load("all.yaml", []byte(src), fakeTypes())
	errs := Errors(err)
	want := []string{
		`all.yaml:7:61: groups.g.pipelines.p.nodes.in.config.protocols.grcp: unknown field "grcp"`,
		`all.yaml:8:80: groups.g.pipelines.p.nodes.fan.config.max_inflight: got "many", want an integer`,
		`all.yaml:9:24: groups.g.pipelines.p.nodes.out.type: unknown node type "exporter:nope"`,
		`all.yaml:12:21: groups.g.pipelines.p.connections[1].from: node "fan" has no output port "b"`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, errs[i], w)
		}
	}
	if errs[1].Node != "fan" {
		t.Errorf("node = %q, want fan", errs[1].Node)
	}
}

func TestValidateDoesNotModifyValidatorErrors(t *testing.T) {
	shared := Errorf(Path{}.Key("x"), "h", "shared")
	reg := fakeTypes()
	reg["exporter:noop"] = func(*Node) error { return shared }
	_, err := Load("a.yaml", []byte(pipe(basicNodes, basicConns)), reg)
	if err == nil || len(Errors(err)) != 1 {
		t.Fatalf("want one error, got %v", err)
	}
	if shared.File != "" || shared.Line != 0 {
		t.Errorf("the validator's error value was modified: %+v", shared)
	}
}

func TestValidateWithoutNames(t *testing.T) {
	d, err := Parse("a.yaml", []byte(pipe(basicNodes, basicConns)))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate(knownOnly{"receiver:otlp", "processor:batch"})
	errs := Errors(err)
	if len(errs) != 1 || !errors.Is(err, ErrUnknownNodeType) {
		t.Fatalf("want one unknown type error, got %v", err)
	}
	if !strings.Contains(errs[0].Hint, "check the spelling") || errs[0].Line != 9 {
		t.Errorf("got %v (line %d)", errs[0], errs[0].Line)
	}
}

// knownOnly is a NodeTypes without Names and with no config rules.
type knownOnly []string

func (k knownOnly) Known(t string) bool        { return slices.Contains(k, t) }
func (k knownOnly) ValidateConfig(*Node) error { return nil }

func ExampleDecodeStrict() {
	type config struct {
		AwaitAck    string   `yaml:"await_ack"`
		MaxInflight int      `yaml:"max_inflight"`
		Timeout     Duration `yaml:"timeout"`
	}
	src := pipe(`
in: { type: receiver:otlp }
fan:
  type: processor:fanout
  config: { await_ack: all, max_inflght: 5, timeout: 2s }
out: { type: exporter:noop }`, "- { from: in, to: fan }\n- { from: fan, to: out }")
	d, _ := Parse("ackflow.yaml", []byte(src))
	n := d.Groups[0].Pipelines[0].Node("fan")

	cfg := config{AwaitAck: "primary", MaxInflight: 10000} // defaults
	err := DecodeStrict(n.Config, &cfg, n.Path.Key("config"))
	fmt.Println(err)
	// Output:
	// <config>:10:39: groups.g.pipelines.p.nodes.fan.config.max_inflght: unknown field "max_inflght" (hint: did you mean "max_inflight"? allowed fields: await_ack, max_inflight, timeout)
}
