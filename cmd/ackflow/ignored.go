package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

// loadReport reads and validates the document at path (the embedded
// default when path is empty), as load does, and also returns the keys of
// the reference engine's format that ackflow accepts without acting on
// them: also when the document has errors, so that validate can list
// them. With strict, those keys are errors instead and none is returned.
func loadReport(path string, reg *engine.Registry, strict bool) (*config.Document, []config.IgnoredKey, error) {
	name, data := "default.yaml (built in)", defaultConfig
	if path != "" {
		b, err := config.ReadFile(path) // refuses a file over config.MaxFileSize
		if err != nil {
			return nil, nil, err
		}
		name, data = path, b
	}
	doc, ignored, err := config.LoadReport(name, data, reg)
	if err == nil {
		err = engine.Check(doc)
	}
	if strict {
		err, ignored = config.Strict(err, ignored), nil
	}
	if err != nil {
		return nil, ignored, err
	}
	return doc, ignored, nil
}

// printIgnored lists the keys accepted without effect, one per line in
// document order, under a count; nothing when there are none.
func printIgnored(w io.Writer, ignored []config.IgnoredKey) {
	if len(ignored) == 0 {
		return
	}
	fmt.Fprintf(w, "accepted but ignored: %d key(s) of the reference engine that ackflow does not act on (validate --strict refuses them)\n", len(ignored))
	for _, k := range ignored {
		fmt.Fprintf(w, "  %s\n", k)
	}
}

// logIgnored logs one warning per key accepted without effect, at start-up.
func logIgnored(log *slog.Logger, ignored []config.IgnoredKey) {
	for _, k := range ignored {
		log.Warn("configuration key accepted but ignored", "path", k.Path.String(), "line", k.Line, "reason", k.Reason)
	}
}
