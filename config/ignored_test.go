package config

import (
	"errors"
	"strings"
	"sync"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// widgetConfig is a node config with keys of the reference engine that
// ackflow accepts without effect.
type widgetConfig struct {
	Size     int  `yaml:"size"`
	PoolSize any  `yaml:"pool_size" ackflow:"ignored,not needed: sized by ackflow"`
	Fast     bool `yaml:"fast" ackflow:"ignored,always fast"`
	Mode     string
	Inner    struct {
		Keep  int `yaml:"keep"`
		Extra any `yaml:"extra" ackflow:"ignored,inner reason"`
	} `yaml:"inner"`
}

// widgetTypes validates receiver/processor/exporter "widget" nodes with
// DecodeNodeConfig; mode: legacy is reported with Ignore.
func widgetTypes() fakeRegistry {
	validate := func(n *Node) error {
		_, err := DecodeNodeConfig(n, widgetConfig{}, func(c *widgetConfig, p Path) error {
			var errs []error
			if c.Size < 0 {
				errs = append(errs, Errorf(p.Key("size"), "use 0 or more", "size is negative"))
			}
			if c.Mode == "legacy" {
				errs = append(errs, Ignore(p.Key("mode"), "legacy is the same as the default here"))
			}
			return errors.Join(errs...)
		})
		return err
	}
	return fakeRegistry{"receiver:widget": validate, "processor:widget": validate, "exporter:widget": validate}
}

const referenceDoc = `version: otel_dataflow/v1
topics:
  raw: { backend: in_memory }
engine:
  telemetry: { logs: { level: info } }
  controller: {}
policies:
  health: {}
  telemetry: { tokio_metrics: false, runtime_metrics: normal }
  resources:
    core_allocation: { strategy: core_set, set: [{start: 0, end: 1}, {start: 4, end: 4}] }
groups:
  g:
    topics: { t: {} }
    pipelines:
      p:
        type: otap
        extensions: { auth: { type: extension:x } }
        nodes:
          in:
            type: receiver:widget
            entity: { extend: { identity_attributes: { region: west } } }
            config: { pool_size: 4, size: 1 }
          mid: { type: processor:widget, config: { mode: legacy, inner: { keep: 1, extra: [1, 2] } } }
          out:
            type: exporter:widget
            capabilities: { bearer_token_provider: auth }
            config: { fast: true }
        connections:
          - { from: in, to: mid }
          - { from: mid, to: out }
`

func TestIgnoredKeysAreReportedInDocumentOrder(t *testing.T) {
	d, err := Load("ref.yaml", []byte(referenceDoc), widgetTypes())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range d.Ignored() {
		got = append(got, k.String())
	}
	want := []string{
		"ref.yaml:2:1: topics: not needed: ackflow has no topics",
		"ref.yaml:5:3: engine.telemetry: not needed: ackflow's own telemetry",
		"ref.yaml:6:3: engine.controller: not needed: ackflow has no controller extensions",
		"ref.yaml:8:3: policies.health: not needed: ackflow's /livez and /readyz",
		"ref.yaml:9:16: policies.telemetry.tokio_metrics: not needed: ackflow has no Tokio runtime",
		"ref.yaml:11:44: policies.resources.core_allocation.set: ackflow runs one pipeline copy per core of the set (3) but does not pin",
		"ref.yaml:14:5: groups.g.topics: not needed: ackflow has no topics",
		"ref.yaml:17:9: groups.g.pipelines.p.type: not needed: an ackflow pipeline carries",
		"ref.yaml:18:9: groups.g.pipelines.p.extensions: ackflow has no extensions",
		"ref.yaml:22:13: groups.g.pipelines.p.nodes.in.entity: not needed: ackflow labels",
		"ref.yaml:23:23: groups.g.pipelines.p.nodes.in.config.pool_size: not needed: sized by ackflow",
		"ref.yaml:24:52: groups.g.pipelines.p.nodes.mid.config.mode: legacy is the same as the default here",
		"ref.yaml:24:84: groups.g.pipelines.p.nodes.mid.config.inner.extra: inner reason",
		"ref.yaml:27:13: groups.g.pipelines.p.nodes.out.capabilities: ackflow has no extensions",
		"ref.yaml:28:23: groups.g.pipelines.p.nodes.out.config.fast: always fast",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ignored keys, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("key %d = %q\nwant prefix %q", i, got[i], want[i])
		}
	}
	// What is implemented still works beside what is ignored.
	r := d.Resolved(d.Groups[0].Pipelines[0])
	if r.Telemetry.RuntimeMetrics != MetricsNormal {
		t.Errorf("runtime_metrics = %q, want normal", r.Telemetry.RuntimeMetrics)
	}
	if c := r.Resources.CoreAllocation; c.Type != CoreSet || c.Copies(64) != 3 {
		t.Errorf("core allocation = %+v, copies %d; want core_set of 3 copies", c, c.Copies(64))
	}
}

func TestIgnoredKeysStayFoundWhenValidatedAgain(t *testing.T) {
	d, err := Load("ref.yaml", []byte(referenceDoc), widgetTypes())
	if err != nil {
		t.Fatal(err)
	}
	before := len(d.Ignored())
	if err := d.Validate(widgetTypes()); err != nil {
		t.Fatal(err)
	}
	if after := len(d.Ignored()); after != before {
		t.Errorf("after a second Validate: %d ignored keys, want %d (no duplicates, none lost)", after, before)
	}
}

func TestTyposNextToIgnoredKeysStayErrors(t *testing.T) {
	doc := strings.Replace(referenceDoc, "{ fast: true }", "{ fast: true, pool_sise: 2 }", 1)
	doc = strings.Replace(doc, "  controller: {}\n", "  controler: {}\n", 1)
	_, ignored, err := LoadReport("ref.yaml", []byte(doc), widgetTypes())
	errs := Errors(err)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), err)
	}
	for i, want := range []string{
		`engine.controler: unknown field "controler" (hint: did you mean "controller"?`,
		`nodes.out.config.pool_sise: unknown field "pool_sise" (hint: did you mean "pool_size"?`,
	} {
		if !strings.Contains(errs[i].Error(), want) || !errors.Is(errs[i], ErrUnknownField) {
			t.Errorf("error %d = %q, want it to contain %q", i, errs[i], want)
		}
	}
	// The report of the rest is there, errors or not.
	if len(ignored) != 14 {
		t.Errorf("LoadReport returned %d ignored keys along with the errors, want 14", len(ignored))
	}
}

func TestStrictTurnsIgnoredKeysIntoErrors(t *testing.T) {
	_, ignored, err := LoadReport("ref.yaml", []byte(referenceDoc), widgetTypes())
	if err != nil {
		t.Fatal(err)
	}
	strict := Strict(err, ignored)
	errs := Errors(strict)
	if len(errs) != len(ignored) {
		t.Fatalf("got %d errors, want %d", len(errs), len(ignored))
	}
	for i, e := range errs {
		if !errors.Is(e, ErrIgnored) || e.Path.String() != ignored[i].Path.String() {
			t.Errorf("error %d = %v, want the ignored key %s as ErrIgnored", i, e, ignored[i].Path)
		}
	}
	if want := "ref.yaml:5:3: engine.telemetry: accepted by the reference engine but ignored by ackflow: not needed"; !strings.HasPrefix(errs[1].Error(), want) {
		t.Errorf("error = %q, want prefix %q", errs[1], want)
	}
	if !strings.Contains(errs[1].Error(), "(hint: remove the key, or validate without --strict") {
		t.Errorf("error = %q, want the hint", errs[1])
	}
	if Strict(nil, nil) != nil {
		t.Error("Strict of nothing is not nil")
	}
}

func TestDecodeStrictReportsIgnoredKeysAsErrIgnoredEntries(t *testing.T) {
	n := nodeConfig(t, "size: 2\npool_size: {any: [shape]}\nfast: yes")
	var cfg widgetConfig
	err := DecodeStrict(n, &cfg, Path{}.Key("config"))
	errs := Errors(err)
	if len(errs) != 2 {
		t.Fatalf("got %v, want two ErrIgnored entries", err)
	}
	for _, e := range errs {
		if !errors.Is(e, ErrIgnored) {
			t.Errorf("%v is not ErrIgnored", e)
		}
	}
	if cfg.Size != 2 || !cfg.Fast {
		t.Errorf("decoded %+v, want size 2 and fast (the value is still decoded)", cfg)
	}
}

func TestIgnoredFieldValueIsCheckedAgainstItsType(t *testing.T) {
	n := nodeConfig(t, "fast: very")
	var cfg widgetConfig
	errs := Errors(DecodeStrict(n, &cfg, Path{}.Key("config")))
	if len(errs) != 2 || !errors.Is(errs[1], ErrType) && !errors.Is(errs[0], ErrType) {
		t.Fatalf("got %v, want an ErrIgnored entry and a type error", errs)
	}
}

func TestDecodeNodeConfigOutsideValidateRecordsNothing(t *testing.T) {
	// Nodes are decoded again when the engine builds them, possibly on
	// several goroutines at once: that decoding must write nothing shared
	// and must not fail on ignored keys.
	n := &Node{Name: "w", Path: Path{}.Key("nodes").Key("w"), Config: nodeConfig(t, "pool_size: 3\nmode: legacy")}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			cfg, err := DecodeNodeConfig(n, widgetConfig{}, func(c *widgetConfig, p Path) error {
				return Ignore(p.Key("mode"), "legacy")
			})
			if err != nil || cfg.Mode != "legacy" {
				t.Errorf("DecodeNodeConfig = %+v, %v; want the config and no error", cfg, err)
			}
		})
	}
	wg.Wait()
	if n.ignored != nil {
		t.Error("the node collected keys outside Document.Validate")
	}
}

func TestConfigHas(t *testing.T) {
	n := &Node{Config: nodeConfig(t, "a: { b: 1, c: ~ }\nd: 0")}
	for _, tt := range []struct {
		keys []string
		want bool
	}{
		{[]string{"a"}, true}, {[]string{"a", "b"}, true}, {[]string{"a", "c"}, false},
		{[]string{"d"}, true}, {[]string{"x"}, false}, {[]string{"d", "e"}, false},
	} {
		if got := n.ConfigHas(tt.keys...); got != tt.want {
			t.Errorf("ConfigHas(%v) = %v, want %v", tt.keys, got, tt.want)
		}
	}
	if (&Node{}).ConfigHas("a") {
		t.Error("a node without config has a key")
	}
}

func TestCoreCountZeroMeansEveryCPU(t *testing.T) {
	doc := "policies:\n  resources: { core_allocation: { type: core_count, count: 0 } }\n" + pipe(basicNodes, basicConns)
	d, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Resolved(d.Groups[0].Pipelines[0]).Resources.CoreAllocation.Copies(6); got != 6 {
		t.Errorf("copies = %d on 6 CPUs, want 6", got)
	}
}

// nodeConfig parses src as a node's config block.
func nodeConfig(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return resolve(&doc)
}

func TestBroadcastToOneDestinationIsReported(t *testing.T) {
	d, err := Parse("t.yaml", []byte(pipe(basicNodes, "- { from: in, to: proc, policies: { dispatch: broadcast } }\n- { from: proc, to: out }")))
	if err != nil {
		t.Fatal(err)
	}
	ig := d.Ignored()
	if len(ig) != 1 || ig[0].Path.String() != conns+"[0].policies.dispatch" || !strings.Contains(ig[0].Reason, "with one destination") {
		t.Fatalf("ignored = %v, want the dispatch of connections[0]", ig)
	}
}
