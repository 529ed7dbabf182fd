package debug_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/debug"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // substrings, one per expected error, in order
	}{
		{name: "no config block", yaml: ""},
		{name: "basic", yaml: "verbosity: basic"},
		{name: "normal", yaml: "verbosity: normal"},
		{name: "detailed, some signals", yaml: "verbosity: detailed\nsignals: [logs, traces]"},
		{
			name: "bad verbosity", yaml: "verbosity: loud",
			wantErr: []string{`config.verbosity: unknown verbosity "loud" (hint: use basic, normal or detailed)`},
		},
		{
			name: "unknown key", yaml: "verbosity: basic\nmdoe: batch",
			wantErr: []string{`config.mdoe: unknown field "mdoe" (hint: did you mean "mode"?`},
		},
		{name: "reference keys", yaml: "mode: signal\noutput: debug.txt\nsampling: {type: zap_sampling, sampling_initial: 2, sampling_thereafter: 5, sampling_interval: 2}\n" +
			"filters: [{predicate: {field: attribute, value: [{key: service.name, value: checkout}, {key: code, value: 500}]}, mode: exclude}]"},
		{name: "sampling interval as a duration", yaml: "sampling: {type: zap_sampling, sampling_initial: 1, sampling_thereafter: 1, sampling_interval: 500ms}"},
		{
			name: "bad mode", yaml: "mode: lines",
			wantErr: []string{`config.mode: unknown mode "lines" (hint: use batch (a report per message) or signal (a report per item))`},
		},
		{
			name: "output ports", yaml: "output: [logging_port]",
			wantErr: []string{"config.output: sending debug copies to output ports is not supported (hint: remove output to log through the node's logger, or give a file path; to see the data on another branch, copy it there with a processor:fanout)"},
		},
		{
			name: "empty output", yaml: "output: ''",
			wantErr: []string{"config.output: output is empty"},
		},
		{
			name: "bad filter", yaml: "filters: [{predicate: {field: body, value: []}, mode: keep}]",
			wantErr: []string{`config.filters[0].mode: unknown filter mode "keep"`, `config.filters[0].predicate.field: unknown predicate field "body"`,
				"config.filters[0].predicate.value: the predicate lists no attribute"},
		},
		{
			name: "bad sampling", yaml: "sampling: {type: zap_sampling, sampling_initial: -1, sampling_thereafter: 0}",
			wantErr: []string{"config.sampling.sampling_initial: sampling_initial must not be negative", "config.sampling.sampling_thereafter: sampling_thereafter must be at least 1",
				"config.sampling.sampling_interval: sampling_interval must be positive"},
		},
		{
			name: "unknown sampling", yaml: "sampling: {type: random}",
			wantErr: []string{`config.sampling.type: unknown sampling type "random" (hint: use no_sampling or zap_sampling)`},
		},
		{
			name: "bad signal", yaml: "signals: [logs, profiles]",
			wantErr: []string{`config.signals[1]: unknown signal "profiles" (hint: use logs, metrics or spans`},
		},
		{name: "empty signals: forward only", yaml: "signals: []"},
		{
			name: "wrong type", yaml: "signals: logs",
			wantErr: []string{"config.signals: got \"logs\", want a list"},
		},
		{
			name: "several outputs", yaml: "", ports: []string{"a", "b"},
			wantErr: []string{"outputs: processor:debug sends on a single output, got 2 (a, b) and no default_output"},
		},
		{
			name: "every error", yaml: "verbosity: ''\nsignals: [x]",
			wantErr: []string{"config.verbosity: unknown verbosity", `config.signals[0]: unknown signal "x"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := config.Errors(nodetest.ValidateConfig(debug.NewFactory(), tt.yaml, tt.ports...))
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

// newHarness builds the node with a logger writing text to the returned buffer.
func newHarness(t *testing.T, cfg string, opts ...nodetest.Option) (*nodetest.Harness, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	f := debug.NewFactory()
	build := f.NewProcessor
	f.NewProcessor = func(nc engine.NodeContext) (engine.Processor, error) {
		nc.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		return build(nc)
	}
	return nodetest.New(t, f, cfg, opts...), &buf
}

func TestForwardsUnchangedAndLogs(t *testing.T) {
	payloads := map[string]*pdata.Payload{
		"logs":    pdatatest.LogsPayload("a", 3, 2, 16),
		"metrics": pdatatest.Metrics(4),
		"traces":  pdatatest.Traces(5),
		"decoded": pdata.FromLogs(pdatatest.LogsData("d", 2, 0, 8)),
	}
	tests := []struct {
		verbosity string
		payload   string
		want      []string // substrings of the log, in order
		not       []string
	}{
		{"basic", "logs", []string{"msg=pdata signal=logs items=3 bytes="}, []string{"resources=", "log record"}},
		{"basic", "decoded", []string{"msg=pdata signal=logs items=2\n"}, []string{"bytes="}},
		{"normal", "logs", []string{"msg=pdata signal=logs items=3 bytes=", "resources=2 scopes=2"}, []string{"log record"}},
		{"normal", "metrics", []string{"signal=metrics items=4", "resources=1 scopes=1 metrics=1"}, nil},
		{"normal", "traces", []string{"signal=traces items=5", "resources=1 scopes=1"}, []string{"msg=span"}},
		{"detailed", "logs", []string{
			"resources=2 scopes=2",
			`msg=resource index=0 attributes="service.name=pdatatest, resource.index=0"`,
			"msg=scope resource=0 index=0 name=pdatatest",
			"msg=\"log record\" resource=0 scope=0 index=0 time=2023-11-14T22:13:20Z severity=Info body=log-a-0.........",
			"msg=\"log record\" resource=1 scope=0 index=0",
			"body=log-a-2",
		}, nil},
		{"detailed", "metrics", []string{
			"msg=\"metric data point\" resource=0 scope=0 metric=pdatatest.t type=Gauge unit=\"\" index=0",
			"index=3 time=2023-11-14T22:13:20.000000003Z attributes=\"\" value=3",
		}, nil},
		{"detailed", "traces", []string{"msg=span resource=0 scope=0 index=4 name=span-t-4 trace_id=01000400000000000000000000000000 span_id=0200040000000000 kind=Unspecified"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.verbosity+"/"+tt.payload, func(t *testing.T) {
			h, logs := newHarness(t, "verbosity: "+tt.verbosity)
			pl := payloads[tt.payload]
			in := pdata.New(pl)
			id := h.SendPData(in)
			out := h.RequireSent("default", 1)[0]
			if out != in || out.Payload() != pl || out.Depth() != 1 {
				t.Fatalf("forwarded %v (payload %p, depth %d), want the input %v unchanged (payload %p, depth 1)",
					out, out.Payload(), out.Depth(), in, pl)
			}
			// Never subscribed: downstream's ack goes straight upstream.
			h.Ack(out)
			h.RequireAcked(id)
			text := logs.String()
			rest := text
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("log lacks %q (in order); log:\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tt.not {
				if strings.Contains(text, n) {
					t.Errorf("log has %q at verbosity %s; log:\n%s", n, tt.verbosity, text)
				}
			}
		})
	}
}

func TestNackPassesThrough(t *testing.T) {
	h, _ := newHarness(t, "verbosity: basic")
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	n := pdata.Nack{Reason: "backend said no", Permanent: true, Cause: pdata.CauseTimeout}
	h.Nack(h.RequireSent("default", 1)[0], n)
	if got := h.RequireNacked(id)[0].Nack; got != n {
		t.Fatalf("upstream got %v, want %v", got, n)
	}
}

func TestSignalsFilter(t *testing.T) {
	h, logs := newHarness(t, "verbosity: basic\nsignals: [metrics]")
	h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	h.SendPData(pdatatest.Msg(pdatatest.Metrics(3)))
	h.RequireSent("default", 2)
	if text := logs.String(); strings.Contains(text, "signal=logs") || !strings.Contains(text, "signal=metrics items=3") {
		t.Fatalf("want only metrics logged, got:\n%s", text)
	}
}

// A message that cannot be forwarded is nacked upstream with the cause.
func TestForwardFailureNacksUpstream(t *testing.T) {
	h, _ := newHarness(t, "verbosity: basic", nodetest.WithPortCapacity(1))
	first := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	second := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	got := h.RequireNacked(second)
	if n := got[0].Nack; n.Cause != pdata.CauseRouteFull || n.Permanent || !strings.Contains(n.Reason, `debug "node": forward: engine: output full`) {
		t.Fatalf("nack = %v, want a transient route_full nack naming the node", n)
	}
	h.Ack(h.RequireSent("default", 1)[0])
	h.RequireAcked(first)
}

func TestSummaryAtShutdown(t *testing.T) {
	h, logs := newHarness(t, "verbosity: basic")
	h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	h.SendPData(pdatatest.Msg(pdatatest.Logs(3)))
	h.SendPData(pdatatest.Msg(pdatatest.Traces(4)))
	h.Shutdown(nodetest.Start)
	want := "msg=\"debug summary\" logs.messages=2 logs.items=5 traces.messages=1 traces.items=4\n"
	if text := logs.String(); !strings.HasSuffix(text, want) {
		t.Fatalf("log ends with:\n%s\nwant %q", text, want)
	}
}
