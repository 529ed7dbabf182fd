package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The documents of testdata/reference are shaped like the reference
// engine's example configurations (written for ackflow, not copied): each
// uses keys the reference engine documents, some implemented by ackflow,
// some accepted without effect. Their golden files hold the ignored-key
// report of `ackflow validate`; rewrite them with
//
//	go test ./cmd/ackflow -run Reference -update

const referenceData = "testdata/reference"

// The -update flag is shared with the other golden tests of the package;
// it is defined here only if no other test file did (package variables,
// such as another file's flag.Bool, are initialized before init runs).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// referenceDocs lists the documents, sorted.
func referenceDocs(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(referenceData, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 12 {
		t.Fatalf("%d documents in %s, want a dozen", len(docs), referenceData)
	}
	return docs
}

// ignoredSection returns the ignored-key report of validate's output: its
// header line and the indented lines after it.
func ignoredSection(out string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.SplitAfter(out, "\n") {
		switch {
		case strings.HasPrefix(line, "accepted but ignored: "):
			in = true
		case in && !strings.HasPrefix(line, "  "):
			in = false
		}
		if in {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestReferenceDocumentsValidate validates every document and compares its
// ignored-key report with the golden file.
func TestReferenceDocumentsValidate(t *testing.T) {
	for _, doc := range referenceDocs(t) {
		t.Run(filepath.Base(doc), func(t *testing.T) {
			stdout, stderr, code := runBinary(t, "validate", "--config", doc)
			if code != exitOK || !strings.HasPrefix(stdout, doc+" is valid\n") {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			report := ignoredSection(stdout)
			if report == "" {
				t.Fatalf("no ignored-key report; every document uses some keys that ackflow ignores:\n%s", stdout)
			}
			golden := strings.TrimSuffix(doc, ".yaml") + ".ignored.golden"
			if updateGolden() {
				if err := os.WriteFile(golden, []byte(report), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if report != string(want) {
				t.Errorf("%s differs (run with -update to accept, then review the diff)\ngot:\n%s\nwant:\n%s", golden, report, want)
			}
		})
	}
}

// strictLine is one error line of `validate --strict` for an ignored key.
var strictLine = regexp.MustCompile(`^  (\S+):(\d+):(\d+): (\S+): accepted by the reference engine but ignored by ackflow: .+ \(hint: remove the key, or validate without --strict to accept it\)$`)

// TestReferenceDocumentsStrict checks that --strict refuses each document
// with exactly one error per ignored key, at the same place.
func TestReferenceDocumentsStrict(t *testing.T) {
	for _, doc := range referenceDocs(t) {
		t.Run(filepath.Base(doc), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(doc, ".yaml") + ".ignored.golden")
			if err != nil {
				t.Skipf("no golden file yet: %v", err)
			}
			stdout, stderr, code := runBinary(t, "validate", "--strict", "--config", doc)
			if code != exitUsage || strings.Contains(stdout, "is valid") {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitUsage, stdout, stderr)
			}
			var places []string
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n")[1:] {
				// "  FILE:LINE:COL: PATH: reason" -> "FILE:LINE:COL: PATH"
				head, _, _ := strings.Cut(strings.TrimPrefix(line, "  "), ": ")
				rest := strings.TrimPrefix(strings.TrimPrefix(line, "  "), head+": ")
				path, _, _ := strings.Cut(rest, ": ")
				places = append(places, head+": "+path)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n")[1:] {
				m := strictLine.FindStringSubmatch(line)
				if m == nil {
					t.Fatalf("unexpected line in --strict output: %q\n%s", line, stderr)
				}
				got = append(got, m[1]+":"+m[2]+":"+m[3]+": "+m[4])
			}
			if strings.Join(got, "\n") != strings.Join(places, "\n") {
				t.Errorf("--strict errors at\n%s\nwant one per ignored key, at\n%s", strings.Join(got, "\n"), strings.Join(places, "\n"))
			}
		})
	}
}

// TestReferenceDocumentsRun runs the three documents that end by
// themselves (traffic generators with max_signal_count): each must start,
// log every ignored key once as a warning with its path and reason, move
// every item, and exit 0.
func TestReferenceDocumentsRun(t *testing.T) {
	for _, tt := range []struct {
		doc, summary string
		extra        []string // further lines the run must log
		not          []string // what it must not log
	}{
		{"trafficgen-batch-noop.yaml", "pipeline default/main: 4000 items received, 4000 delivered, 0 nacked, 0 dropped, 0 in flight at exit", nil, nil},
		{"trafficgen-semconv-debug.yaml", "pipeline default/main: 3000 items received, 3000 delivered, 0 nacked, 0 dropped, 0 in flight at exit",
			// Spans and logs item by item, those of GET requests only.
			[]string{`msg=span`, `msg="log record"`, `attributes="http.request.method=GET`},
			[]string{`msg="metric data point"`, `http.request.method=POST`, `msg=pdata`}},
		{"trafficgen-console.yaml", "pipeline default/main: 2000 items received, 2000 delivered, 0 nacked, 0 dropped, 0 in flight at exit",
			[]string{"console metrics: final: 1000 items", "console traces: final: 1000 items", "msg=pdata pipeline=default/main copy=0 node=debug signal=metrics items=200"}, nil},
		// Half the log records sampled out, counted as dropped; every
		// signal routed to its perf exporter.
		{"trafficgen-processors-perf.yaml", "pipeline default/main: 3000 items received, 2500 delivered, 0 nacked, 500 dropped, 0 in flight at exit",
			[]string{`node=perf_logs elapsed=`, `logs.items=500 `, `metrics.items=1000 `, `traces.items=1000 `}, []string{"ACCOUNTING MISMATCH"}},
	} {
		t.Run(tt.doc, func(t *testing.T) {
			doc := filepath.Join(referenceData, tt.doc)
			golden, err := os.ReadFile(strings.TrimSuffix(doc, ".yaml") + ".ignored.golden")
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runBinary(t, "run", "--config", doc)
			if code != exitOK {
				t.Fatalf("exit %d, want 0\nstderr:\n%s", code, stderr)
			}
			out := stdout + stderr
			for _, w := range append([]string{tt.summary}, tt.extra...) {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q", n)
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(string(golden)), "\n")[1:] {
				loc, _, _ := strings.Cut(strings.TrimPrefix(line, "  "), ": ")
				rest := strings.TrimPrefix(strings.TrimPrefix(line, "  "), loc+": ")
				path, _, _ := strings.Cut(rest, ": ")
				want := `level=WARN msg="configuration key accepted but ignored" path=` + path + " "
				if n := strings.Count(stderr, want); n != 1 {
					t.Errorf("%d start-up warnings for %s, want 1", n, path)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
		})
	}
}
