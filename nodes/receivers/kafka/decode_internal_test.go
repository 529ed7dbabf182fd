package kafka

import (
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestDecode(t *testing.T) {
	logsJSON, err := (&plog.JSONMarshaler{}).MarshalLogs(pdatatest.LogsData("j", 3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	jsonLogs := route{signal: pdata.Logs, enc: encJSON}
	protoLogs := route{signal: pdata.Logs}

	p, err := decode(jsonLogs, logsJSON)
	if err != nil || p.Items() != 3 || p.Form() != pdata.FormDecoded {
		t.Fatalf("JSON logs: %v, %v", p, err)
	}
	p, err = decode(protoLogs, pdatatest.LogsBytes("p", 2, 0, 0))
	if err != nil || p.Items() != 2 || p.Form() != pdata.FormOTLP {
		t.Fatalf("proto logs: %v, %v", p, err)
	}
	if p, err := decode(protoLogs, nil); err != nil || p.Items() != 0 {
		t.Fatalf("an empty value is an empty request: %v, %v", p, err)
	}

	for name, c := range map[string]struct {
		rt    route
		value string
		want  string
	}{
		"proto garbage":    {protoLogs, "\x0a\xff\xff\xff", ""},
		"JSON syntax":      {jsonLogs, `{"resourceLogs": [`, "truncated"},
		"JSON after":       {jsonLogs, `{} {}`, "content after the document"},
		"JSON not object":  {jsonLogs, `[1]`, "not an object"},
		"JSON UTF-8":       {jsonLogs, "{\"a\": \"\xff\"}", "invalid UTF-8"},
		"JSON too deep":    {jsonLogs, `{"a":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, "nested deeper"},
		"JSON unbalanced":  {jsonLogs, `{}}`, "content after"},
		"JSON wrong shape": {jsonLogs, `{"resourceLogs": 3}`, ""},
	} {
		_, err := decode(c.rt, []byte(c.value))
		if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want errMalformed mentioning %q", name, err, c.want)
		}
	}
}
