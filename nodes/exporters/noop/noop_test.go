package noop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
		class   error
	}{
		{name: "no config", yaml: ""},
		{name: "null", yaml: "~"},
		{name: "empty mapping", yaml: "{}"},
		{
			name: "any key", yaml: "verbosity: basic\nfoo: 1",
			wantErr: []string{
				`config.verbosity: unknown field "verbosity" (hint: exporter:noop takes no settings`,
				`config.foo: unknown field "foo"`,
			},
			class: config.ErrUnknownField,
		},
		{name: "not a mapping", yaml: "[1]", wantErr: []string{"config: got a list, want a mapping"}, class: config.ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nodetest.ValidateConfig(noop.NewFactory(), tt.yaml)
			errs := config.Errors(err)
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tt.wantErr), err)
			}
			for i, want := range tt.wantErr {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), want)
				}
			}
			if tt.class != nil && !errors.Is(err, tt.class) {
				t.Errorf("%v is not %v", err, tt.class)
			}
		})
	}
}

func TestAcksEverything(t *testing.T) {
	h := nodetest.New(t, noop.NewFactory(), "")
	var ids []uint64
	for _, p := range []*pdata.Payload{pdatatest.Logs(3), pdatatest.Metrics(2), pdatatest.Traces(1), pdata.FromLogs(pdatatest.LogsData("d", 1, 0, 4))} {
		ids = append(ids, h.SendPData(pdata.New(p)))
	}
	h.RequireAcked(ids...)
	h.Shutdown(nodetest.Start)
	if len(h.Upstream()) != 0 || h.Pending() != 0 {
		t.Fatalf("after Shutdown: %d more outcomes, %d pending", len(h.Upstream()), h.Pending())
	}
}
