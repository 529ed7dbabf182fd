package otlptest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// factory accepts a config block without the key bad.
var factory = engine.Factory{
	Type: "exporter:fake",
	Validate: func(n *config.Node) error {
		c, err := config.DecodeNodeConfig(n, struct {
			Bad bool `yaml:"bad"`
		}{}, nil)
		if err == nil && c.Bad {
			err = config.Errorf(n.Path.Key("config").Key("bad"), "remove it", "bad is set")
		}
		return err
	},
}

// fatalTB records a fatal failure and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// verdict runs RequireConfig on its own goroutine and returns what it
// reported ("" when it passed) and the error it returned.
func verdict(t *testing.T, yaml string, wantErr ...string) (msg string, err error) {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err = otlptest.RequireConfig(tb, factory, "out", yaml, wantErr...)
	}()
	<-done
	return tb.msg, err
}

func TestRequireConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		wantErr    []string
		report     string // what RequireConfig reports; "" when the case passes
	}{
		{name: "valid", yaml: "bad: false\n"},
		{name: "rejected as wanted", yaml: "bad: true\n", wantErr: []string{"nodes.out.config.bad", "remove it"}},
		{name: "valid config rejected", yaml: "bad: true\n", report: "valid config rejected"},
		{name: "invalid config accepted", yaml: "bad: false\n", wantErr: []string{"bad"}, report: "invalid config accepted"},
		{name: "error without the mention", yaml: "bad: true\n", wantErr: []string{"bad is set", "elsewhere"}, report: `does not mention "elsewhere"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := verdict(t, tc.yaml, tc.wantErr...)
			if (tc.report == "") != (msg == "") || !strings.Contains(msg, tc.report) {
				t.Fatalf("reported %q, want %q", msg, tc.report)
			}
			if tc.report == "" && (err != nil) != (len(tc.wantErr) > 0) {
				t.Fatalf("returned %v", err)
			}
		})
	}
}
