package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// bins are the binaries under test, set by TestMain.
var bins struct {
	ackflow, otelcol, otelarrowcol, telemetrygen string
}

const telemetrygenPkg = "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen"

// buildTimeout bounds building the four binaries from a cold cache on a
// two-core machine.
const buildTimeout = 12 * time.Minute

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir := os.Getenv("INTEROP_BIN_DIR")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ackflow-interop-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "interop:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		if err := buildAll(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "interop: build:", err)
			return 1
		}
		dir = tmp
	}
	bins.ackflow = filepath.Join(dir, "ackflow")
	bins.otelcol = filepath.Join(dir, "otelcol")
	bins.otelarrowcol = filepath.Join(dir, "otelarrowcol")
	bins.telemetrygen = filepath.Join(dir, "telemetrygen")
	for _, b := range []string{bins.ackflow, bins.otelcol, bins.otelarrowcol, bins.telemetrygen} {
		if _, err := os.Stat(b); err != nil {
			fmt.Fprintf(os.Stderr, "interop: %v (INTEROP_BIN_DIR must hold ackflow, otelcol, otelarrowcol and telemetrygen)\n", err)
			return 1
		}
	}
	return m.Run()
}

// buildAll builds ackflow (from the repository root, the parent of this
// module), the two collectors (otelarrowcol is its own module) and
// telemetrygen into dir.
func buildAll(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	builds := []struct{ workdir, out, pkg string }{
		{"..", "ackflow", "./cmd/ackflow"},
		{".", "otelcol", "./cmd/otelcol"},
		{"otelarrowcol", "otelarrowcol", "."},
		{".", "telemetrygen", telemetrygenPkg},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = b.workdir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	return nil
}
