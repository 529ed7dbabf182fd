package otlp

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// logsJSON is a logs request whose one record has the given JSON fields.
func logsJSON(record string) string {
	return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{` + record + `}]}]}]}`
}

// jsonChain is an AnyValue in OTLP/JSON nested levels deep, through
// kvlistValue (kv) or arrayValue.
func jsonChain(levels int, kv bool) string {
	var b strings.Builder
	for range levels - 1 {
		if kv {
			b.WriteString(`{"kvlistValue":{"values":[{"key":"k","value":`)
		} else {
			b.WriteString(`{"arrayValue":{"values":[`)
		}
	}
	b.WriteString(`{"stringValue":"leaf"}`)
	for range levels - 1 {
		if kv {
			b.WriteString(`}]}}`)
		} else {
			b.WriteString(`]}}`)
		}
	}
	return b.String()
}

const testLimit = 64 << 20

func TestJSONOneDocumentOnly(t *testing.T) {
	one := logsJSON(`"body":{"stringValue":"a"}`)
	tests := []struct {
		name, body string
		want       string // "" means accepted
	}{
		{"one document", one, ""},
		{"trailing whitespace", one + " \r\n\t", ""},
		{"two documents", one + one, fmt.Sprintf(`unexpected "{\"resourceLogs\":"... after the JSON document at byte %d`, len(one))},
		{"two documents with a newline", one + "\n" + one, fmt.Sprintf("after the JSON document at byte %d", len(one)+1)},
		{"trailing garbage", one + "garbage", `unexpected "garbage" after the JSON document`},
		{"trailing bracket", one + "]", `unexpected "]" after`},
		{"a string then more", `"x" {}`, "after the JSON document at byte 4"},
		{"a number then more", `12 {}`, "after the JSON document at byte 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeJSON(pdata.Logs, []byte(tt.body), testLimit)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestJSONMustBeUTF8(t *testing.T) {
	body := logsJSON(`"body":{"stringValue":"caf` + "\xe9" + `"}`)
	_, err := decodeJSON(pdata.Logs, []byte(body), testLimit)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("not valid UTF-8 at byte %d", strings.Index(body, "\xe9"))) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	// Escapes are the decoder's business: a lone surrogate becomes U+FFFD,
	// which is valid.
	p, err := decodeJSON(pdata.Logs, []byte(logsJSON(`"body":{"stringValue":"caf\u00e9 \ud800"}`)), testLimit)
	if err != nil {
		t.Fatal(err)
	}
	ld, _ := p.Logs()
	if got := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str(); got != "café \uFFFD" {
		t.Fatalf("body %q", got)
	}
}

// TestJSONDepth: AnyValues nest up to otlpwire.MaxValueDepth levels in JSON
// as in protobuf (and the decoded request passes the wire scan once
// encoded); one level more is refused with the path. Nesting that would
// crash the decoder is refused before decoding.
func TestJSONDepth(t *testing.T) {
	places := []struct {
		name   string
		signal pdata.Signal
		body   func(v string) string
		path   string
	}{
		{"log body", pdata.Logs, func(v string) string { return logsJSON(`"body":` + v) },
			"resourceLogs[0].scopeLogs[0].logRecords[0].body"},
		{"log attribute", pdata.Logs, func(v string) string {
			return logsJSON(`"attributes":[{"key":"a"},{"key":"b","value":` + v + `}]`)
		}, "resourceLogs[0].scopeLogs[0].logRecords[0].attributes[1]"},
		{"resource attribute", pdata.Traces, func(v string) string {
			return `{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":` + v + `}]}}]}`
		}, "resourceSpans[0].resource.attributes[0]"},
		{"span event", pdata.Traces, func(v string) string {
			return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[{},{"attributes":[{"key":"a","value":` + v + `}]}]}]}]}]}`
		}, "resourceSpans[0].scopeSpans[0].spans[0].events[1].attributes[0]"},
		{"exemplar", pdata.Metrics, func(v string) string {
			return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","histogram":{"dataPoints":[{"exemplars":[{"filteredAttributes":[{"key":"a","value":` + v + `}]}]}]}}]}]}]}`
		}, "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].exemplars[0].filteredAttributes[0]"},
		{"metric metadata", pdata.Metrics, func(v string) string {
			return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","metadata":[{"key":"a","value":` + v + `}]}]}]}]}`
		}, "resourceMetrics[0].scopeMetrics[0].metrics[0].metadata[0]"},
	}
	for _, pl := range places {
		for _, kv := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/kvlist=%t", pl.name, kv), func(t *testing.T) {
				p, err := decodeJSON(pl.signal, []byte(pl.body(jsonChain(otlpwire.MaxValueDepth, kv))), testLimit)
				if err != nil {
					t.Fatalf("%d levels refused: %v", otlpwire.MaxValueDepth, err)
				}
				b, err := p.AppendOTLP(nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := otlpwire.Scan(otlpwire.Kind(pl.signal+1), b); err != nil {
					t.Fatalf("the wire scan refuses what JSON accepted: %v", err)
				}
				_, err = decodeJSON(pl.signal, []byte(pl.body(jsonChain(otlpwire.MaxValueDepth+1, kv))), testLimit)
				want := pl.path + fmt.Sprintf(": AnyValues nested more than %d levels deep", otlpwire.MaxValueDepth)
				if !errors.Is(err, otlpwire.ErrTooDeep) || !strings.Contains(err.Error(), want) {
					t.Fatalf("%d levels: %v, want %q", otlpwire.MaxValueDepth+1, err, want)
				}
			})
		}
	}
}

func TestJSONNestingThatWouldCrashTheDecoder(t *testing.T) {
	body := logsJSON(`"body":` + jsonChain(1_000_000, false)) // 28 MB
	_, err := decodeJSON(pdata.Logs, []byte(body), testLimit)
	want := fmt.Sprintf("nested more than %d levels deep at byte", maxJSONDepth)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	// Unknown fields are skipped by the decoder, but not by the prescan.
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	if _, err := decodeJSON(pdata.Logs, []byte(`{"unknown":`+deep+`}`), testLimit); err == nil {
		t.Fatal("deep unknown field accepted")
	}
}

// TestJSONAmplification: the report's request, ~60 MiB of `{}` records,
// is refused before decoding; so are requests over maxRequestItems.
func TestJSONAmplification(t *testing.T) {
	n := 20 << 20
	body := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[` + strings.Repeat("{},", n-1) + `{}]}]}]}`
	_, err := decodeJSON(pdata.Logs, []byte(body), testLimit)
	if !errors.Is(err, errJSONTooLarge) || !strings.Contains(err.Error(), "more than max_request_size (67108864)") {
		t.Fatalf("got %v", err)
	}
	if r := decodeFailure(err); r.v != vTooLarge {
		t.Fatalf("answered %v, want too large (413)", r.v)
	}
	// With a limit that would let it through, the item bound holds.
	_, err = decodeJSON(pdata.Logs, []byte(body), 1<<40)
	if !errors.Is(err, errJSONTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("%d items, more than the %d", n, maxRequestItems)) {
		t.Fatalf("got %v", err)
	}
	// Escaping a key does not hide the records.
	escaped := strings.Replace(body, "logRecords", `log\u0052ecords`, 1)
	if sh, _ := prescanJSON([]byte(escaped)); sh.items != n {
		t.Fatalf("escaped key: %d items counted, want %d", sh.items, n)
	}
}

// TestJSONDecodedEstimate: the estimate is above what decoding really
// keeps for hostile shapes, and within a few times the body for ordinary
// logs, which therefore decode within the default max_request_size.
func TestJSONDecodedEstimate(t *testing.T) {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := range 1000 {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("order %08d accepted: 3 items, 42.17 EUR", i))
		lr.Attributes().PutStr("http.route", "/api/v1/orders")
		lr.Attributes().PutInt("http.status_code", 200)
		lr.Attributes().PutStr("user.id", fmt.Sprintf("u-%06d", i%9973))
	}
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	sh, err := prescanJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if sh.items != 1000 || sh.decoded < len(body) || sh.decoded > 4*len(body) {
		t.Fatalf("%d bytes of ordinary logs: %d items, estimate %d", len(body), sh.items, sh.decoded)
	}
	if _, err := decodeJSON(pdata.Logs, body, len(body)*4); err != nil {
		t.Fatal(err)
	}
	if got, err := jsonDecodedSize(body); err != nil || got != sh.decoded {
		t.Fatalf("jsonDecodedSize = %d, %v", got, err)
	}
}

// FuzzHTTPJSON: decoding arbitrary bytes as OTLP/JSON never panics; what
// it accepts is one valid JSON document (encoding/json agrees), nothing
// after it is ever accepted, and its AnyValues pass the wire scan's
// depth rule once encoded as protobuf.
func FuzzHTTPJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, signal uint8, b []byte) {
		s := pdata.Signal(signal % 3)
		p, err := decodeBody(s, mediaJSON, b, 1<<20)
		if err != nil {
			if !errors.Is(err, errJSON) {
				t.Fatalf("error %v does not wrap errJSON", err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		for _, tail := range []string{"x", "{}", "]", `""`, "0"} {
			if _, err := decodeBody(s, mediaJSON, append(bytes.Clone(b), tail...), 1<<20); err == nil {
				t.Fatalf("accepted %q followed by %q", b, tail)
			}
		}
		enc, err := p.AppendOTLP(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := otlpwire.Scan(otlpwire.Kind(s+1), enc); err != nil {
			t.Fatalf("accepted JSON the wire scan refuses once encoded: %v\n%q", err, b)
		}
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz/FuzzHTTPJSON")

// jsonSeeds are FuzzHTTPJSON's committed seeds: valid requests of each
// signal and the hostile shapes of the tests above, small.
func jsonSeeds() map[string]struct {
	signal pdata.Signal
	body   string
} {
	one := logsJSON(`"body":{"stringValue":"a"},"attributes":[{"key":"k","value":{"intValue":"7"}}]`)
	type seed = struct {
		signal pdata.Signal
		body   string
	}
	return map[string]seed{
		"logs":            {pdata.Logs, one},
		"metrics":         {pdata.Metrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"1","exemplars":[{}]}]}}]}]}]}`},
		"traces":          {pdata.Traces, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","events":[{}],"links":[{}]}]}]}]}`},
		"snake-case":      {pdata.Logs, `{"resource_logs":[{"scope_logs":[{"log_records":[{},{}]}]}]}`},
		"empty":           {pdata.Logs, ``},
		"two-documents":   {pdata.Logs, one + one},
		"trailing":        {pdata.Traces, `{} x`},
		"invalid-utf8":    {pdata.Logs, logsJSON(`"body":{"stringValue":"` + "\xff" + `"}`)},
		"escaped-key":     {pdata.Logs, `{"resourceLogs":[{"scopeLogs":[{"log\u0052ecords":[{}]}]}]}`},
		"deep-at-limit":   {pdata.Logs, logsJSON(`"body":` + jsonChain(otlpwire.MaxValueDepth, false))},
		"deep-over-limit": {pdata.Logs, logsJSON(`"body":` + jsonChain(otlpwire.MaxValueDepth+1, true))},
		"deep-brackets":   {pdata.Metrics, strings.Repeat("[", 400)},
		"string-escapes":  {pdata.Logs, logsJSON(`"body":{"stringValue":"q\"\\\"]}"}`)},
	}
}

// TestJSONFuzzCorpus keeps testdata/fuzz/FuzzHTTPJSON in step with
// jsonSeeds: run with -update-corpus to rewrite it.
func TestJSONFuzzCorpus(t *testing.T) {
	for name, s := range jsonSeeds() {
		want := fmt.Sprintf("go test fuzz v1\nuint8(%d)\n[]byte(%q)\n", uint8(s.signal), s.body)
		path := filepath.Join("testdata", "fuzz", "FuzzHTTPJSON", name)
		if *updateCorpus {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestJSONFuzzCorpus -update-corpus)", err)
		}
		if string(got) != want {
			t.Errorf("%s is stale: run go test -run TestJSONFuzzCorpus -update-corpus", path)
		}
	}
}

// TestPrescanIsAJSONValidator: the prescan accepts exactly what
// encoding/json calls valid (for UTF-8 bodies within the depth bound), on
// tricky cases and on random corruptions of a valid request.
func TestPrescanIsAJSONValidator(t *testing.T) {
	cases := []string{
		``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `1.`, `.5`, `1e`, `1e+`, `1E-7`, `-`, `+1`, `tru`, `true`, `nul`, `null `,
		`{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a":1 "b":2}`, `{"a" 1}`, `{1:2}`, `{"a":1}}`, `[[]`,
		`"\u12"`, `"\u12g4"`, `"\x"`, `"\/\b\f\n\r\t\"\\"`, "\"\x01\"", `"abc`, `"abc\"`, `["a",{"b":[true,false,null,-1.5e3]}]`,
		`{"a":[1,2]`, `{"a":tru}`, `{"a":nulll}`, `[1 2]`, `{"a":1}x`, `{"a":1} {}`,
	}
	valid := []byte(logsJSON(`"timeUnixNano":"1","body":{"stringValue":"q\"\\x"},"attributes":[{"key":"k","value":{"doubleValue":-1.5e-3}},{"key":"b","value":{"boolValue":true}}]`))
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := bytes.Clone(valid)
		switch r.IntN(3) {
		case 0:
			b = b[:r.IntN(len(b))]
		case 1:
			const alphabet = `{}[],:"\ 0-.e1tnx`
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		default:
			i := r.IntN(len(b))
			b = append(b[:i], b[i+1:]...)
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		_, err := prescanJSON([]byte(c))
		if (err == nil) != json.Valid([]byte(c)) {
			t.Errorf("%q: prescan %v, encoding/json valid %t", c, err, json.Valid([]byte(c)))
		}
	}
}

// BenchmarkJSON compares the checks of decodeJSON (prescan, depth walk)
// with pdata's decoding alone, on 1,000 ordinary log records.
func BenchmarkJSON(b *testing.B) {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := range 1000 {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("order %08d accepted: 3 items, 42.17 EUR", i))
		lr.Attributes().PutStr("http.route", "/api/v1/orders")
		lr.Attributes().PutInt("http.status_code", 200)
		lr.Attributes().PutStr("user.id", fmt.Sprintf("u-%06d", i%9973))
	}
	body, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
		})
	}
	run("prescan", func() error { _, err := prescanJSON(body); return err })
	run("depth-walk", func() error { return logsTooDeep(ld) })
	run("pdata-only", func() error { return plogotlp.NewExportRequest().UnmarshalJSON(body) })
	run("decodeJSON", func() error { _, err := decodeJSON(pdata.Logs, body, testLimit); return err })
}

// A protobuf request of more empty records than maxRequestItems is refused
// before any node could decode it (it would allocate per record).
func TestProtobufItemBound(t *testing.T) {
	rec := []byte{0x12, 0x00} // log_records: an empty LogRecord
	scope := append([]byte{}, bytes.Repeat(rec, maxRequestItems+1)...)
	body := protowire.AppendTag(nil, 1, protowire.BytesType) // resource_logs
	rl := protowire.AppendTag(nil, 2, protowire.BytesType)   // scope_logs
	rl = protowire.AppendBytes(rl, scope)
	body = protowire.AppendBytes(body, rl)
	_, err := decodeBody(pdata.Logs, mediaProtobuf, body, len(body))
	if !errors.Is(err, errTooManyItems) || decodeFailure(err).v != vTooLarge {
		t.Fatalf("decodeBody of %d empty records: %v, want errTooManyItems (413)", maxRequestItems+1, err)
	}
	small := protowire.AppendTag(nil, 1, protowire.BytesType)
	small = protowire.AppendBytes(small, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), bytes.Repeat(rec, 10)))
	if p, err := decodeBody(pdata.Logs, mediaProtobuf, small, len(small)); err != nil || p.Items() != 10 {
		t.Fatalf("10 records: %v, %v", p, err)
	}
}
