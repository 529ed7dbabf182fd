package otlptest

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
)

// RequireConfig validates yaml as the config block of node nodes.<node>,
// of f's type, and checks the verdict: with no wantErr the block must be
// accepted; otherwise it must be rejected with an error that mentions each
// of wantErr (the YAML path, the problem, the fix). It returns the error,
// for checks of its own.
func RequireConfig(t testing.TB, f engine.Factory, node, yaml string, wantErr ...string) error {
	t.Helper()
	n, err := nodetest.NodeConfig(f.Type, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Path = config.Path{}.Key("nodes").Key(node)
	if f.Validate == nil {
		t.Fatalf("%s has no Validate", f.Type)
	}
	err = f.Validate(n)
	if len(wantErr) == 0 {
		if err != nil {
			t.Fatalf("valid config rejected: %v", err)
		}
		return nil
	}
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range wantErr {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	return err
}
