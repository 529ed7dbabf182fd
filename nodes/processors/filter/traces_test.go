package filter_test

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// testTraces is the data every span rule is tried on: two resources, five
// spans s1..s5 with different names, kinds, attributes, events and links.
func testTraces(t testing.TB) ptrace.Traces {
	return buildTraces(t,
		spanRes{attrs: attrs{"env": "prod", "service.name": "checkout"}, spans: []span{
			{id: "s1", name: "checkout-warn", kind: ptrace.SpanKindServer, attrs: attrs{"component": "rest"},
				events: []event{{name: "checkout-event", attrs: attrs{"success": true}}}},
			{id: "s2", name: "checkout-error", kind: ptrace.SpanKindClient, attrs: attrs{"component": "db"},
				links: []attrs{{"correlation": false}}},
			{id: "s3", name: "internal-work", kind: ptrace.SpanKindInternal,
				events: []event{{name: "payment-event", attrs: attrs{"success": false}}}},
		}},
		spanRes{attrs: attrs{"env": "staging", "service.name": "payment"}, spans: []span{
			{id: "s4", name: "payment-warn", kind: ptrace.SpanKindProducer, attrs: attrs{"component": "db"}},
			{id: "s5", name: "payment-error", kind: ptrace.SpanKindConsumer,
				links: []attrs{{"correlation": true}}},
		}},
	)
}

func TestSpanRules(t *testing.T) {
	all := []string{"s1", "s2", "s3", "s4", "s5"}
	tests := []struct {
		name string
		cfg  string
		want []string // ids kept; none: the message is dropped
	}{
		{name: "no traces rules: untouched", cfg: "logs: { exclude: { bodies: [x] } }", want: all},
		{name: "span_names strict", cfg: "traces: { include: { span_names: [checkout-warn, payment-error] } }",
			want: []string{"s1", "s5"}},
		{name: "span_names regexp", cfg: "traces: { include: { match_type: regexp, span_names: ['-error$'] } }",
			want: []string{"s2", "s5"}},
		{name: "span_kinds", cfg: "traces: { include: { span_kinds: [server, SPAN_KIND_CLIENT, Internal] } }",
			want: []string{"s1", "s2", "s3"}},
		{name: "span_kinds are not regexps", cfg: "traces: { exclude: { match_type: regexp, span_kinds: [producer, consumer] } }",
			want: []string{"s1", "s2", "s3"}},
		{name: "resource_attributes", cfg: "traces: { include: { resource_attributes: [{ key: env, value: staging }] } }",
			want: []string{"s4", "s5"}},
		{name: "resource_attributes all must match", cfg: `
traces:
  include:
    resource_attributes: [{ key: env, value: staging }, { key: service.name, value: checkout }]`},
		{name: "services", cfg: "traces: { include: { services: [payment] } }", want: []string{"s4", "s5"}},
		{name: "services regexp", cfg: "traces: { exclude: { match_type: regexp, services: ['^check'] } }",
			want: []string{"s4", "s5"}},
		{name: "span_attributes any", cfg: `
traces:
  include:
    span_attributes: [{ key: component, value: rest }, { key: component, value: db }]`,
			want: []string{"s1", "s2", "s4"}},
		{name: "event_names", cfg: "traces: { include: { event_names: [payment-event] } }", want: []string{"s3"}},
		{name: "event_attributes", cfg: "traces: { exclude: { event_attributes: [{ key: success, value: false }] } }",
			want: []string{"s1", "s2", "s4", "s5"}},
		{name: "link_attributes", cfg: "traces: { include: { link_attributes: [{ key: correlation, value: false }] } }",
			want: []string{"s2"}},
		{name: "link_attributes by key", cfg: "traces: { include: { link_attributes: [{ key: correlation }] } }",
			want: []string{"s2", "s5"}},
		{name: "include and exclude", cfg: `
traces:
  include:
    match_type: regexp
    span_names: ['^payment-', '^checkout-']
  exclude:
    span_kinds: [producer]
    span_attributes: [{ key: component, value: db }]`, want: []string{"s1", "s2", "s5"}},
		{name: "exclude everything", cfg: "traces: { exclude: { match_type: regexp, span_names: [''] } }"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tracesPayload(t, testTraces(t))
			checkKept(t, in, run(t, tc.cfg, in), spanIDs, tc.want)
		})
	}
}
