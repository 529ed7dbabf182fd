package filter_test

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// testLogs is the data every logs rule is tried on: two resources, six
// records r1..r6 with different severities, bodies and attributes.
func testLogs(t testing.TB) plog.Logs {
	return buildLogs(t,
		logRes{attrs: attrs{"env": "prod", "service.name": "checkout"}, recs: []logRec{
			{id: "r1", sevText: "WARN", sevNum: plog.SeverityNumberWarn, body: "checkout started",
				attrs: attrs{"component": "rest", "retryable": false, "code": 200}},
			{id: "r2", sevText: "ERROR", sevNum: plog.SeverityNumberError, body: "failed to write to socket",
				attrs: attrs{"component": "db", "retryable": true}},
			{id: "r3", sevText: "INFO", sevNum: plog.SeverityNumberInfo, body: "inventory updated",
				attrs: attrs{"component": "db"}},
			{id: "r4", body: 42}, // no severity at all
		}},
		logRes{attrs: attrs{"env": "staging", "service.name": "inventory"}, recs: []logRec{
			{id: "r5", sevText: "WARN", sevNum: plog.SeverityNumberWarn, body: "checkout started",
				attrs: attrs{"component": "rest"}},
			{id: "r6", sevText: "DEBUG", sevNum: plog.SeverityNumberDebug, body: map[string]any{"k": "v"},
				attrs: attrs{"tags": []any{"a", "b"}}},
		}},
	)
}

func TestLogRules(t *testing.T) {
	all := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
	tests := []struct {
		name string
		cfg  string
		want []string // ids kept; none: the message is dropped
	}{
		{name: "no logs rules: untouched", cfg: "traces: { exclude: { span_names: [x] } }", want: all},

		// severity_texts
		{name: "severity_texts strict", cfg: `
logs:
  include:
    match_type: strict
    severity_texts: [WARN, ERROR]`, want: []string{"r1", "r2", "r5"}},
		{name: "severity_texts strict is case-sensitive", cfg: "logs: { include: { severity_texts: [warn] } }"},
		{name: "severity_texts regexp", cfg: "logs: { include: { match_type: regexp, severity_texts: ['^W'] } }",
			want: []string{"r1", "r5"}},
		{name: "regexps are unanchored", cfg: "logs: { include: { match_type: regexp, severity_texts: [RR] } }",
			want: []string{"r2"}},

		// severity_number
		{name: "severity_number min as a number", cfg: "logs: { include: { severity_number: { min: 13 } } }",
			want: []string{"r1", "r2", "r5"}},
		{name: "severity_number min as a name", cfg: "logs: { include: { severity_number: { min: warn } } }",
			want: []string{"r1", "r2", "r5"}},
		{name: "severity_number match_undefined", cfg: `
logs:
  include:
    severity_number: { min: ERROR, match_undefined: true }`, want: []string{"r2", "r4"}},
		{name: "exclude below a severity", cfg: "logs: { exclude: { severity_number: { min: 1 } } }",
			want: []string{"r4"}},

		// bodies
		{name: "bodies strict", cfg: "logs: { include: { bodies: [checkout started] } }", want: []string{"r1", "r5"}},
		{name: "bodies regexp", cfg: "logs: { include: { match_type: regexp, bodies: ['socket$', '^inv'] } }",
			want: []string{"r2", "r3"}},
		{name: "bodies integer", cfg: "logs: { include: { bodies: [42] } }", want: []string{"r4"}},
		{name: "bodies integer also matches in regexp mode", cfg: "logs: { include: { match_type: regexp, bodies: [42] } }",
			want: []string{"r4"}},
		{name: "a quoted number matches text only", cfg: "logs: { include: { bodies: ['42'] } }"},
		{name: "bodies mapping", cfg: "logs: { include: { bodies: [{ k: v }] } }", want: []string{"r6"}},

		// resource_attributes: all must match
		{name: "resource_attributes", cfg: `
logs:
  include:
    resource_attributes:
      - { key: env, value: prod }`, want: []string{"r1", "r2", "r3", "r4"}},
		{name: "resource_attributes all must match", cfg: `
logs:
  include:
    resource_attributes:
      - { key: env, value: prod }
      - { key: service.name, value: inventory }`},
		{name: "resource_attributes regexp", cfg: `
logs:
  include:
    match_type: regexp
    resource_attributes: [{ key: env, value: '^stag' }]`, want: []string{"r5", "r6"}},

		// record_attributes: one must match
		{name: "record_attributes any matches", cfg: `
logs:
  include:
    record_attributes:
      - { key: component, value: db }
      - { key: retryable, value: true }`, want: []string{"r2", "r3"}},
		{name: "record attribute boolean is typed", cfg: "logs: { include: { record_attributes: [{ key: retryable, value: false }] } }",
			want: []string{"r1"}},
		{name: "record attribute integer", cfg: "logs: { include: { record_attributes: [{ key: code, value: 200 }] } }",
			want: []string{"r1"}},
		{name: "record attribute float equals the integer", cfg: "logs: { include: { record_attributes: [{ key: code, value: 200.0 }] } }",
			want: []string{"r1"}},
		{name: "record attribute by key only", cfg: "logs: { include: { record_attributes: [{ key: retryable }] } }",
			want: []string{"r1", "r2"}},
		{name: "record attribute list", cfg: "logs: { include: { record_attributes: [{ key: tags, value: [a, b] }] } }",
			want: []string{"r6"}},
		{name: "record attribute regexp", cfg: "logs: { include: { match_type: regexp, record_attributes: [{ key: component, value: '^d' }] } }",
			want: []string{"r2", "r3"}},
		{name: "record attribute value of another type does not match", cfg: "logs: { include: { record_attributes: [{ key: code, value: '200' }] } }"},

		// exclude, and both
		{name: "exclude severity_texts", cfg: "logs: { exclude: { severity_texts: [DEBUG] } }",
			want: []string{"r1", "r2", "r3", "r4", "r5"}},
		{name: "exclude resource", cfg: "logs: { exclude: { resource_attributes: [{ key: env, value: staging }] } }",
			want: []string{"r1", "r2", "r3", "r4"}},
		{name: "exclude matching nothing: untouched", cfg: "logs: { exclude: { bodies: [nothing] } }", want: all},
		{name: "exclude needs every property to match", cfg: `
logs:
  exclude:
    resource_attributes: [{ key: env, value: staging }]
    severity_texts: [WARN]`, want: []string{"r1", "r2", "r3", "r4", "r6"}},
		{name: "include and exclude", cfg: `
logs:
  include:
    resource_attributes: [{ key: env, value: prod }]
  exclude:
    record_attributes: [{ key: component, value: db }]`, want: []string{"r1", "r4"}},
		{name: "include and exclude with different match types", cfg: `
logs:
  include:
    match_type: regexp
    severity_texts: ['^(WARN|ERROR)$']
  exclude:
    match_type: strict
    resource_attributes: [{ key: env, value: staging }]`, want: []string{"r1", "r2"}},
		{name: "include everything, exclude everything", cfg: `
logs:
  include: { severity_number: { min: 1, match_undefined: true } }
  exclude: { record_attributes: [{ key: id }] }`},
		{name: "the reference's empty lists are no property", cfg: `
logs:
  include:
    record_attributes: []
    severity_number: null
    severity_texts: [ERROR]
  log_record: []`, want: []string{"r2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := logsPayload(t, testLogs(t))
			checkKept(t, in, run(t, tc.cfg, in), logIDs, tc.want)
		})
	}
}

// Resources and scopes whose records are all filtered out are left out of
// the reduced payload; those kept keep their attributes.
func TestLogsReducedPayloadKeepsStructure(t *testing.T) {
	in := logsPayload(t, testLogs(t))
	r := run(t, "logs: { include: { severity_texts: [DEBUG, ERROR] } }", in)
	if r.sent == nil {
		t.Fatal("everything dropped")
	}
	ld, err := r.sent.Payload().Logs()
	if err != nil {
		t.Fatal(err)
	}
	if n := ld.ResourceLogs().Len(); n != 2 {
		t.Fatalf("%d resources, want 2", n)
	}
	for i, want := range []string{"prod", "staging"} {
		rl := ld.ResourceLogs().At(i)
		if env, _ := rl.Resource().Attributes().Get("env"); env.Str() != want {
			t.Errorf("resource %d: env %q, want %q", i, env.Str(), want)
		}
		if s := rl.ScopeLogs().At(0).Scope().Name(); s != "filtertest" {
			t.Errorf("resource %d: scope %q, want filtertest", i, s)
		}
	}
	r = run(t, "logs: { include: { severity_texts: [DEBUG] } }", logsPayload(t, testLogs(t)))
	if ld, _ = r.sent.Payload().Logs(); ld.ResourceLogs().Len() != 1 {
		t.Fatalf("%d resources, want only the one with a record left", ld.ResourceLogs().Len())
	}
}
