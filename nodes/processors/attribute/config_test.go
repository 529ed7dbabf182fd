package attribute_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/attribute"
)

func TestConfigValidation(t *testing.T) {
	const a0 = "config.actions[0]"
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // substrings, one per expected error, in order
	}{
		{name: "no config block", yaml: ""},
		{name: "no actions", yaml: "apply_to: [resource]"},
		{name: "reference example", yaml: `apply_to: ["resource", "signal"]
actions:
  - {action: delete, key: temporary.attribute}
  - action: insert
    key: deployment.environment
    value:
      string: prod
  - {action: upsert, key: service.namespace, value: {string: checkout}}
  - {action: update, key: service.version, value: "1.2.3"}
  - {action: rename, source_key: service, destination_key: service.name}
  - {action: hash, key: user.email, algorithm: sha256, salt: "tenant-specific-salt"}`},
		{name: "typed and untyped values", yaml: `actions:
  - {action: insert, key: a, value: 5}
  - {action: insert, key: b, value: -1.5e3}
  - {action: insert, key: c, value: false}
  - {action: insert, key: d, value: {int: 7}}
  - {action: insert, key: e, value: {double: 2}}
  - {action: insert, key: f, value: {bool: true}}
  - {action: insert, key: g, value: 2024-01-02}
  - {action: insert, key: h, value: .nan}`},
		{name: "rename with key and new_key", yaml: "actions: [{action: rename, key: a, new_key: b}]"},
		{name: "from_attribute", yaml: "actions: [{action: upsert, key: a, from_attribute: b}]"},
		{
			name: "unknown action", yaml: "actions: [{action: convert_all, key: a}]",
			wantErr: []string{a0 + `.action: unknown action "convert_all" (hint: use one of: insert, upsert, update, delete, rename, hash)`},
		},
		{
			name: "collector action the reference ignores", yaml: "actions: [{action: extract, key: a}]",
			wantErr: []string{a0 + `.action: action "extract" is not supported`},
		},
		{
			name: "missing action", yaml: "actions: [{key: a}]",
			wantErr: []string{a0 + ".action: action is required"},
		},
		{
			name: "missing key", yaml: "actions: [{action: delete}]",
			wantErr: []string{a0 + ".key: key is required for delete (hint: name the attribute the action works on)"},
		},
		{
			name: "missing value", yaml: "actions: [{action: upsert, key: a}]",
			wantErr: []string{a0 + ".value: value is required for upsert"},
		},
		{
			name: "null value", yaml: "actions: [{action: update, key: a, value: ~}]",
			wantErr: []string{a0 + ".value: value is empty"},
		},
		{
			name: "list value", yaml: "actions: [{action: insert, key: a, value: [1, 2]}]",
			wantErr: []string{a0 + ".value: lists and maps are not supported as values"},
		},
		{
			name: "bad typed value", yaml: "actions: [{action: insert, key: a, value: {int: x}}]",
			wantErr: []string{a0 + `.value.int: "x" is not a 64-bit int`},
		},
		{
			name: "unknown value type", yaml: "actions: [{action: insert, key: a, value: {float: 1}}]",
			wantErr: []string{a0 + `.value.float: unknown value type "float"`},
		},
		{
			name: "value and from_attribute", yaml: "actions: [{action: insert, key: a, value: 1, from_attribute: b}]",
			wantErr: []string{a0 + ".from_attribute: value and from_attribute are both set"},
		},
		{
			name: "rename without destination", yaml: "actions: [{action: rename, source_key: a}]",
			wantErr: []string{a0 + ".destination_key: destination_key is required for rename (hint: give source_key and destination_key (or key and new_key))"},
		},
		{
			name: "rename without anything", yaml: "actions: [{action: rename}]",
			wantErr: []string{a0 + ".source_key: source_key is required", a0 + ".destination_key: destination_key is required"},
		},
		{
			name: "rename to itself", yaml: "actions: [{action: rename, source_key: a, destination_key: a}]",
			wantErr: []string{a0 + `.destination_key: renames "a" to itself`},
		},
		{
			name: "rename with both spellings", yaml: "actions: [{action: rename, source_key: a, key: b, destination_key: c, new_key: d}]",
			wantErr: []string{a0 + ".key: source_key and key are both set", a0 + ".new_key: destination_key and new_key are both set"},
		},
		{
			name: "key that does not apply", yaml: "actions: [{action: delete, key: a, salt: x, value: 1}]",
			wantErr: []string{a0 + ".value: value does not apply to delete (hint: remove it: delete takes key)", a0 + ".salt: salt does not apply to delete"},
		},
		{
			name: "unknown algorithm", yaml: "actions: [{action: hash, key: a, algorithm: md5}]",
			wantErr: []string{a0 + `.algorithm: unknown hash algorithm "md5" (hint: use sha256, or remove the key)`},
		},
		{
			name: "typo in a key", yaml: "actions: [{action: hash, key: a, slat: x}]",
			wantErr: []string{a0 + `.slat: unknown field "slat"`},
		},
		{
			name: "unknown domain", yaml: "apply_to: [signal, spans]",
			wantErr: []string{`config.apply_to[1]: unknown attribute domain "spans" (hint: use signal, resource or scope)`},
		},
		{
			name: "domain twice", yaml: "apply_to: [scope, scope]",
			wantErr: []string{`config.apply_to[1]: domain "scope" is listed twice`},
		},
		{
			name: "no domain", yaml: "apply_to: []",
			wantErr: []string{"config.apply_to: no attribute domain (hint: list at least one of signal, resource, scope, or remove the key for the default [signal])"},
		},
		{
			name: "several outputs", yaml: "", ports: []string{"a", "b"},
			wantErr: []string{"outputs: processor:attribute sends on a single output, got 2 (a, b)"},
		},
		{
			name: "every error at once", yaml: "apply_to: [x]\nactions: [{action: nope}, {action: insert}, {action: delete, key: ok}]",
			wantErr: []string{`config.apply_to[0]: unknown attribute domain "x"`, a0 + `.action: unknown action "nope"`,
				"config.actions[1].key: key is required", "config.actions[1].value: value is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := config.Errors(nodetest.ValidateConfig(attribute.NewFactory(), tt.yaml, tt.ports...))
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tt.wantErr), errs)
			}
			for i, want := range tt.wantErr {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

// TestConfigErrorClasses checks the sentinels callers branch on.
func TestConfigErrorClasses(t *testing.T) {
	for yaml, want := range map[string]error{
		"actions: [{action: delete}]":               config.ErrInvalidValue,
		"actions: [{key: a}]":                       config.ErrMissing,
		"apply_to: [scope, scope]":                  config.ErrDuplicate,
		"actions: [{action: delete, key: a, x: 1}]": config.ErrUnknownField,
	} {
		if err := nodetest.ValidateConfig(attribute.NewFactory(), yaml); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", yaml, err, want)
		}
	}
}

// TestURN checks that the reference engine's URN names this node type.
func TestURN(t *testing.T) {
	if attribute.Type != "processor:attribute" {
		t.Fatalf("Type = %q", attribute.Type)
	}
	doc := `version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          in: {type: "urn:otel:receiver:traffic_generator"}
          attrs:
            type: "urn:otel:processor:attribute"
            config: {apply_to: [resource], actions: [{action: insert, key: deployment.environment, value: production}]}
          out: {type: "urn:otel:exporter:noop"}
        connections:
          - {from: in, to: attrs}
          - {from: attrs, to: out}
`
	d, err := config.Parse("urn.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	n := d.Groups[0].Pipelines[0].Node("attrs")
	if n.Type != attribute.Type {
		t.Fatalf("type %q, want %q", n.Type, attribute.Type)
	}
	if err := attribute.NewFactory().Validate(n); err != nil {
		t.Fatal(err)
	}
}
