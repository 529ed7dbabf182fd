package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/components"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

// docs/OPERATIONS.md names every metric the engine and the node types
// register: a pipeline with one node of each type is built, and each
// metric family it exposes must appear in the document.
func TestOperationsDocumentsEveryMetric(t *testing.T) {
	raw, err := os.ReadFile("testdata/every-node-type.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("BUFFER_DIR"), []byte(t.TempDir()))
	reg := components.Registry()
	doc, err := config.Load("every-node-type.yaml", raw, reg)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, n := range doc.Groups[0].Pipelines[0].Nodes {
		types[n.Type] = true
	}
	for _, typ := range reg.Names() {
		if !types[typ] {
			t.Errorf("testdata/every-node-type.yaml has no node of type %s: add one", typ)
		}
	}
	eng, err := engine.New(doc, reg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Built nodes own goroutines (a buffer's log, gRPC clients) that only
	// a run and its drain release.
	eng.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx)
	}()
	var prom bytes.Buffer
	if err := eng.Metrics().WritePrometheus(&prom); err != nil {
		t.Fatal(err)
	}
	ops, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	var families []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(prom.String(), -1) {
		families = append(families, m[1])
	}
	if len(families) < 50 {
		t.Fatalf("only %d metric families: the pipeline did not build its nodes?", len(families))
	}
	slices.Sort(families)
	for _, f := range families {
		if !strings.Contains(string(ops), "`"+f+"`") && !documentedByPrefix(string(ops), f) {
			t.Errorf("docs/OPERATIONS.md does not name the metric %s", f)
		}
	}
}

// documentedByPrefix accepts a family written in the document as a
// pattern `prefix_{a,b,c}_suffix`.
func documentedByPrefix(doc, family string) bool {
	for _, m := range regexp.MustCompile("`([a-z0-9_]*)\\{([a-z0-9_,]+)\\}([a-z0-9_]*)`").FindAllStringSubmatch(doc, -1) {
		for _, alt := range strings.Split(m[2], ",") {
			if m[1]+alt+m[3] == family {
				return true
			}
		}
	}
	return false
}
