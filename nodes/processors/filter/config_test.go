package filter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/filter"
)

// referenceShaped is a config block written in the shape of the reference
// engine's filter README: every key it documents for the three signals.
const referenceShaped = `
metrics:
  include:
    match_type: strict
    metric_names: [app.requests, app.latency]
  exclude:
    match_type: regexp
    metric_names: ['^debug\..*$']
logs:
  include:
    match_type: strict
    resource_attributes:
      - key: deployment.environment
        value: prod
    record_attributes: []
    severity_texts: [WARN, ERROR]
    severity_number:
      min: 13
      match_undefined: false
    bodies: [order placed, disk full]
  exclude:
    match_type: strict
    resource_attributes:
      - { key: deployment.environment, value: qa }
    record_attributes:
      - { key: component, value: cache }
      - { key: retryable, value: true }
    severity_texts: [WARN]
    severity_number: null
    bodies: [order placed]
  log_record: []
traces:
  include:
    match_type: strict
    resource_attributes: [{ key: deployment.environment, value: prod }]
    span_attributes: []
    span_names: [order-ok, order-failed]
    event_names: [order-event]
    event_attributes: []
    link_attributes: []
  exclude:
    match_type: strict
    resource_attributes: [{ key: deployment.environment, value: qa }]
    span_attributes: [{ key: component, value: cache }]
    span_names: [refund-ok]
    event_names: [refund-event]
    event_attributes: [{ key: success, value: false }]
    link_attributes: [{ key: correlation, value: false }]
`

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // substrings, one per expected error, in order; none: valid
	}{
		{name: "no config block", yaml: ""},
		{name: "empty block", yaml: "{}"},
		{name: "every key of the reference", yaml: referenceShaped},
		{name: "the README's getting started", yaml: `
logs:
  include:
    severity_number: { min: WARN }
  exclude:
    match_type: regexp
    bodies: ['^GET /healthz']
traces:
  exclude:
    span_kinds: [internal]
metrics:
  exclude:
    match_type: regexp
    metric_names: ['^internal\.']`},
		{name: "the Collector's extra keys", yaml: `
logs:
  include: { severity_number: { min: INFO } }
metrics:
  include: { resource_attributes: [{ key: host.name, value: a }] }
traces:
  exclude: { services: [health], span_kinds: [SPAN_KIND_INTERNAL] }`},
		{name: "every severity spelling", yaml: `
logs:
  include: { severity_number: { min: warn2 } }
  exclude: { severity_number: { min: SEVERITY_NUMBER_FATAL } }`},
		{
			name:    "invalid regexp names its entry",
			yaml:    "logs: { include: { match_type: regexp, severity_texts: [WARN, 'ERR(OR'] } }",
			wantErr: []string{`config.logs.include.severity_texts[1]: invalid regexp "ERR(OR": error parsing regexp: missing closing ): ` + "`ERR(OR`" + ` (hint: write an RE2 regular expression`},
		},
		{
			name: "every invalid regexp is reported",
			yaml: `
traces:
  exclude:
    match_type: regexp
    span_names: ['a[']
    resource_attributes: [{ key: env, value: '*prod' }]
metrics:
  include: { match_type: regexp, metric_names: ['(?P<x'] }`,
			wantErr: []string{
				`config.metrics.include.metric_names[0]: invalid regexp "(?P<x"`,
				`config.traces.exclude.resource_attributes[0].value: invalid regexp "*prod"`,
				`config.traces.exclude.span_names[0]: invalid regexp "a["`,
			},
		},
		{
			name:    "unknown match_type",
			yaml:    "metrics: { exclude: { match_type: regex, metric_names: [a] } }",
			wantErr: []string{`config.metrics.exclude.match_type: unknown match_type "regex" (hint: use strict (whole strings) or regexp (RE2, unanchored))`},
		},
		{
			name:    "the Collector's expr match_type",
			yaml:    "metrics: { include: { match_type: expr, metric_names: [a] } }",
			wantErr: []string{`config.metrics.include.match_type: match_type "expr" is not supported (hint: use strict or regexp on metric_names`},
		},
		{
			name:    "a rule with nothing to match",
			yaml:    "logs: { exclude: { match_type: strict, record_attributes: [] } }",
			wantErr: []string{"config.logs.exclude: the rule sets nothing to match (hint: set at least one of resource_attributes, record_attributes, severity_texts, severity_number, bodies, or remove the rule)"},
		},
		{
			name:    "an empty traces rule",
			yaml:    "traces: { include: {} }",
			wantErr: []string{"config.traces.include: the rule sets nothing to match (hint: set at least one of resource_attributes, services, span_attributes"},
		},
		{
			name:    "OTTL conditions",
			yaml:    "logs: { log_record: ['severity_number < 9'] }",
			wantErr: []string{"config.logs.log_record: OTTL conditions are not supported (hint: express the condition with logs.include or logs.exclude rules"},
		},
		{
			name:    "severity name unknown",
			yaml:    "logs: { include: { severity_number: { min: WARNING } } }",
			wantErr: []string{`config.logs.include.severity_number.min: unknown severity "WARNING" (hint: write a number from 1 to 24 or a name`},
		},
		{
			name:    "severity number out of range",
			yaml:    "logs: { include: { severity_number: { min: 25 } } }",
			wantErr: []string{"config.logs.include.severity_number.min: severity number 25 is out of range 0 to 24"},
		},
		{
			name:    "severity_number without min",
			yaml:    "logs: { include: { severity_number: { match_undefined: true } } }",
			wantErr: []string{"config.logs.include.severity_number.min: severity_number needs min (hint: add min: WARN"},
		},
		{
			name:    "unknown span kind",
			yaml:    "traces: { include: { span_kinds: [server, srv] } }",
			wantErr: []string{`config.traces.include.span_kinds[1]: unknown span kind "srv" (hint: use one of server, client, producer, consumer, internal, unspecified`},
		},
		{
			name:    "attribute without key",
			yaml:    "logs: { include: { record_attributes: [{ value: x }] } }",
			wantErr: []string{"config.logs.include.record_attributes[0].key: the attribute key is empty (hint: name the attribute"},
		},
		{
			name:    "empty body",
			yaml:    "logs: { include: { bodies: [~] } }",
			wantErr: []string{"config.logs.include.bodies[0]: the value is empty"},
		},
		{
			name:    "a value that is no attribute type",
			yaml:    "logs: { include: { record_attributes: [{ key: day, value: 2024-01-01 }] } }",
			wantErr: []string{"config.logs.include.record_attributes[0].value: cannot match a value of type time.Time (hint: write a string, number, boolean, list or mapping; quote it to match it as text)"},
		},
		{
			name:    "an integer beyond 64 bits",
			yaml:    "traces: { include: { span_attributes: [{ key: n, value: 18446744073709551615 }] } }",
			wantErr: []string{"config.traces.include.span_attributes[0].value: integer 18446744073709551615 is out of range"},
		},
		{
			name:    "typo in a key",
			yaml:    "logs: { include: { severity_text: [WARN] } }",
			wantErr: []string{`config.logs.include.severity_text: unknown field "severity_text"`},
		},
		{
			name:    "the Collector's spans section",
			yaml:    "spans: { include: { span_names: [a] } }",
			wantErr: []string{`config.spans: unknown field "spans"`},
		},
		{
			name:    "several outputs without default_output",
			yaml:    "",
			ports:   []string{"a", "b"},
			wantErr: []string{"outputs: processor:filter sends on a single output, got 2 (a, b) and no default_output"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := nodetest.ValidateConfig(filter.NewFactory(), tc.yaml, tc.ports...)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("want valid, got: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %d error(s), got none", len(tc.wantErr))
			}
			errs := config.Errors(err)
			if len(errs) != len(tc.wantErr) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tc.wantErr), err)
			}
			sortByPath(errs)
			for i, want := range tc.wantErr {
				if got := errs[i].Error(); !strings.Contains(got, want) {
					t.Errorf("error %d:\n got: %s\nwant: …%s…", i, got, want)
				}
				if !errors.Is(errs[i], config.ErrInvalidValue) && !errors.Is(errs[i], config.ErrUnknownField) && !errors.Is(errs[i], config.ErrType) {
					t.Errorf("error %d has no config class: %v", i, errs[i])
				}
			}
		})
	}
}

// sortByPath orders errors by YAML path, so a test does not depend on the
// order in which the validator visits the signals.
func sortByPath(errs []*config.Error) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Path.String() < errs[j-1].Path.String(); j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

// Validate on the exported Config reports the same problems as the
// factory, so that callers holding a decoded Config can check it.
func TestConfigValidate(t *testing.T) {
	min := filter.Severity(13)
	c := filter.Config{Logs: filter.LogsConfig{
		Include: &filter.LogMatch{MatchType: filter.Regexp, SeverityTexts: []string{"("}},
		Exclude: &filter.LogMatch{SeverityNumber: &filter.SeverityNumber{Min: &min}},
	}}
	err := c.Validate(config.Path{}.Key("config"))
	if err == nil || !strings.Contains(err.Error(), "config.logs.include.severity_texts[0]: invalid regexp") {
		t.Fatalf("Validate = %v, want the invalid regexp under its path", err)
	}
	c.Logs.Include.SeverityTexts = []string{"^WARN$"}
	if err := c.Validate(config.Path{}.Key("config")); err != nil {
		t.Fatalf("Validate = %v, want nil", err)
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]filter.Severity{
		"1": 1, "24": 24, "0": 0, "TRACE": 1, "trace4": 4, "DEBUG": 5, "Info": 9, "INFO3": 11,
		"WARN": 13, "ERROR": 17, "ERROR2": 18, "FATAL": 21, "FATAL4": 24, "SEVERITY_NUMBER_WARN": 13,
	} {
		got, err := filter.ParseSeverity(in)
		if err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "25", "WARN5", "WARNING", "severity"} {
		if _, err := filter.ParseSeverity(in); err == nil {
			t.Errorf("ParseSeverity(%q) succeeded, want an error", in)
		}
	}
}
