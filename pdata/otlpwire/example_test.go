package otlpwire_test

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

func ExampleSplit() {
	// A request of three resources holding 1, 3 and 2 log records.
	ld := plog.NewLogs()
	for _, n := range []int{1, 3, 2} {
		records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for range n {
			records.AppendEmpty().Body().SetStr("hello")
		}
	}
	req, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		panic(err)
	}

	st, err := otlpwire.Scan(otlpwire.Logs, req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes: %d records in %d resources\n", len(req), st.Items, st.Resources)

	chunks, err := otlpwire.Split(otlpwire.Logs, req, 80)
	if err != nil {
		panic(err)
	}
	for _, c := range chunks {
		st, _ := otlpwire.Scan(otlpwire.Logs, c)
		fmt.Printf("chunk of %d bytes: %d records\n", len(c), st.Items)
	}
	// Output:
	// 114 bytes: 6 records in 3 resources
	// chunk of 76 bytes: 4 records
	// chunk of 38 bytes: 2 records
}
