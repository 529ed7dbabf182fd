package trafficgen

import (
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// This file is data_source: semantic_conventions. The reference engine
// resolves the OpenTelemetry semantic-conventions registry (registry_path,
// by default a clone of the conventions' repository) and generates every
// span, metric and event it defines. ackflow does not read a registry:
// it carries a catalog of the conventions most telemetry is made of (HTTP
// server and client, database client, messaging, RPC, process and
// exceptions), attribute names and value types as the conventions define
// them, and cycles through it. The catalog is small and fixed; what it
// buys is data whose keys and cardinality look like real instrumentation,
// for processors that look at attributes (filter, attribute, routing).

// semAttr is one attribute of a convention: its key and the values it
// cycles through, strings or integers.
type semAttr struct {
	key  string
	strs []string
	ints []int64
}

func str(key string, values ...string) semAttr { return semAttr{key: key, strs: values} }

func num(key string, values ...int64) semAttr { return semAttr{key: key, ints: values} }

// put sets the attribute's value for item k.
func (a semAttr) put(m pcommon.Map, k int) {
	if len(a.ints) > 0 {
		m.PutInt(a.key, a.ints[k%len(a.ints)])
		return
	}
	m.PutStr(a.key, a.strs[k%len(a.strs)])
}

// semSpan is a span convention.
type semSpan struct {
	name  string
	kind  ptrace.SpanKind
	attrs []semAttr
}

// semMetric is a metric convention.
type semMetric struct {
	name, unit, description string
	instrument              metricInstrument
	attrs                   []semAttr
}

type metricInstrument uint8

const (
	histogram     metricInstrument = iota // a duration or size histogram
	counter                               // a monotonic cumulative sum
	upDownCounter                         // a non-monotonic cumulative sum
	gauge
)

// semEvent is an event (a log record with an event name) convention.
type semEvent struct {
	name     string
	severity plog.SeverityNumber
	body     string
	attrs    []semAttr
}

// semCatalog is the catalog: span, metric and event conventions.
type semCatalog struct {
	spans   []semSpan
	metrics []semMetric
	events  []semEvent
}

var (
	semconvOnce sync.Once
	semconvCat  *semCatalog
)

// semconv returns the catalog, built on first use: only a generator with
// data_source: semantic_conventions needs it, so a process that runs none
// does not build it (nor run this code) at start.
func semconv() *semCatalog {
	semconvOnce.Do(func() { semconvCat = newSemCatalog() })
	return semconvCat
}

func newSemCatalog() *semCatalog {
	httpMethod := str("http.request.method", "GET", "GET", "POST", "PUT", "DELETE", "GET")
	httpRoute := str("http.route", "/api/orders", "/api/orders/{id}", "/api/cart", "/api/users/{id}", "/healthz")
	httpStatus := num("http.response.status_code", 200, 200, 201, 204, 404, 500, 503)
	urlScheme := str("url.scheme", "https", "http")
	serverAddr := str("server.address", "orders.internal", "cart.internal", "users.internal", "payments.example.com")
	serverPort := num("server.port", 443, 8080, 5432, 9092)
	netProtoVer := str("network.protocol.version", "1.1", "2")
	dbSystem := str("db.system.name", "postgresql", "mysql", "redis")
	dbNamespace := str("db.namespace", "shop", "users")
	dbOperation := str("db.operation.name", "SELECT", "INSERT", "UPDATE", "SELECT")
	dbTable := str("db.collection.name", "orders", "customers", "line_items")
	msgSystem := str("messaging.system", "kafka", "rabbitmq")
	msgDest := str("messaging.destination.name", "orders", "payments", "notifications")
	rpcSystem := str("rpc.system", "grpc")
	rpcService := str("rpc.service", "shop.Inventory", "shop.Payments", "grpc.health.v1.Health")
	rpcMethod := str("rpc.method", "Reserve", "Charge", "Check")
	grpcStatus := num("rpc.grpc.status_code", 0, 0, 0, 14)
	return &semCatalog{
		spans: []semSpan{
			{"GET /api/orders/{id}", ptrace.SpanKindServer, []semAttr{httpMethod, httpRoute, httpStatus, urlScheme,
				str("url.path", "/api/orders/42", "/api/orders/7", "/api/cart"), netProtoVer,
				str("user_agent.original", "curl/8.5.0", "Mozilla/5.0", "okhttp/4.12"), str("client.address", "10.0.3.7", "10.0.8.21")}},
			{"GET", ptrace.SpanKindClient, []semAttr{httpMethod, serverAddr, serverPort, httpStatus,
				str("url.full", "https://payments.example.com/v1/charges", "http://users.internal:8080/api/users/7")}},
			{"SELECT shop.orders", ptrace.SpanKindClient, []semAttr{dbSystem, dbNamespace, dbOperation, dbTable, serverAddr, serverPort,
				str("db.query.text", "SELECT * FROM orders WHERE id = ?", "UPDATE customers SET email = ? WHERE id = ?")}},
			{"send orders", ptrace.SpanKindProducer, []semAttr{msgSystem, msgDest, str("messaging.operation.type", "send"),
				str("messaging.operation.name", "send", "publish"), str("messaging.message.id", "a1f3", "b7e2", "c9d4")}},
			{"process orders", ptrace.SpanKindConsumer, []semAttr{msgSystem, msgDest, str("messaging.operation.type", "process"),
				str("messaging.consumer.group.name", "fulfilment", "billing")}},
			{"shop.Inventory/Reserve", ptrace.SpanKindClient, []semAttr{rpcSystem, rpcService, rpcMethod, grpcStatus, serverAddr, serverPort}},
			{"price cart", ptrace.SpanKindInternal, []semAttr{str("code.function.name", "pricing.Compute", "pricing.ApplyDiscount"),
				str("code.file.path", "pricing/compute.go", "pricing/discount.go")}},
		},
		metrics: []semMetric{
			{"http.server.request.duration", "s", "Duration of HTTP server requests.", histogram, []semAttr{httpMethod, httpRoute, httpStatus, urlScheme}},
			{"http.server.active_requests", "{request}", "Number of active HTTP server requests.", upDownCounter, []semAttr{httpMethod, urlScheme}},
			{"http.client.request.duration", "s", "Duration of HTTP client requests.", histogram, []semAttr{httpMethod, serverAddr, httpStatus}},
			{"db.client.operation.duration", "s", "Duration of database client operations.", histogram, []semAttr{dbSystem, dbOperation, dbTable}},
			{"messaging.client.sent.messages", "{message}", "Number of messages producers sent.", counter, []semAttr{msgSystem, msgDest,
				str("messaging.operation.name", "send", "publish")}},
			{"rpc.client.duration", "ms", "Duration of outbound RPCs.", histogram, []semAttr{rpcSystem, rpcService, rpcMethod, grpcStatus}},
			{"process.cpu.utilization", "1", "CPU used by the process, by mode.", gauge, []semAttr{str("cpu.mode", "user", "system")}},
			{"process.memory.usage", "By", "Physical memory in use by the process.", upDownCounter, nil},
		},
		events: []semEvent{
			{"exception", plog.SeverityNumberError, "order lookup failed", []semAttr{
				str("exception.type", "java.net.SocketTimeoutException", "*net.OpError", "ValueError"),
				str("exception.message", "read timed out", "connection refused", "invalid order id")}},
			{"session.start", plog.SeverityNumberInfo, "", []semAttr{str("session.id", "9e3f-01", "7a2c-88", "31bd-4f")}},
			{"feature_flag.evaluation", plog.SeverityNumberDebug, "", []semAttr{str("feature_flag.key", "new-checkout", "dark-mode"),
				str("feature_flag.result.variant", "on", "off"), str("feature_flag.provider.name", "flagd")}},
			{"", plog.SeverityNumberInfo, "request handled", []semAttr{httpMethod, httpRoute, httpStatus}},
		},
	}
}

// semScope is the instrumentation scope of the catalog's data.
func semScope(s pcommon.InstrumentationScope) {
	s.SetName(scopeName + "/semconv")
	s.SetVersion("1")
}

func (g synth) semconvTraces(v, n int, res *resourceSet) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	g.resource(rs.Resource(), res)
	rs.SetSchemaUrl(schemaURL)
	ss := rs.ScopeSpans().AppendEmpty()
	semScope(ss.Scope())
	cat := semconv()
	spans := ss.Spans()
	spans.EnsureCapacity(n)
	for i := range n {
		k := v*n + i
		c := cat.spans[k%len(cat.spans)]
		sp := spans.AppendEmpty()
		hi, lo := idBytes8(mix(uint64(k)<<1)), idBytes8(mix(^uint64(k)))
		var trace pcommon.TraceID
		copy(trace[:8], hi[:])
		copy(trace[8:], lo[:])
		sp.SetTraceID(trace)
		sp.SetSpanID(pcommon.SpanID(idBytes8(mix(uint64(k)<<1 | 1))))
		sp.SetName(c.name)
		sp.SetKind(c.kind)
		sp.SetStartTimestamp(g.at(i))
		sp.SetEndTimestamp(g.at(i) + pcommon.Timestamp((1+k%80)*int(time.Millisecond)))
		sp.Attributes().EnsureCapacity(len(c.attrs))
		for _, a := range c.attrs {
			a.put(sp.Attributes(), k)
		}
		if code, ok := sp.Attributes().Get("http.response.status_code"); ok && code.Int() >= 500 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

// semconvMetrics returns n data points, cycling through the catalog's
// metrics, pointsPerMetric data points each (one per attribute
// combination).
func (g synth) semconvMetrics(v, n int, res *resourceSet) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	g.resource(rm.Resource(), res)
	rm.SetSchemaUrl(schemaURL)
	sm := rm.ScopeMetrics().AppendEmpty()
	semScope(sm.Scope())
	cat, per := semconv(), g.shape.pointsPerMetric
	for m, i := 0, 0; i < n; m++ {
		c := cat.metrics[(v*n/per+m)%len(cat.metrics)]
		metric := sm.Metrics().AppendEmpty()
		metric.SetName(c.name)
		metric.SetUnit(c.unit)
		metric.SetDescription(c.description)
		for ; i < n && i < (m+1)*per; i++ {
			k := v*n + i
			var attrs pcommon.Map
			switch c.instrument {
			case histogram:
				h := metric.Histogram()
				if metric.Type() != pmetric.MetricTypeHistogram {
					h = metric.SetEmptyHistogram()
					h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				}
				dp := h.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(g.base)
				dp.SetTimestamp(g.at(i))
				bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
				dp.ExplicitBounds().FromRaw(bounds)
				counts := make([]uint64, len(bounds)+1)
				var total uint64
				for b := range counts {
					counts[b] = uint64((k + b*7) % 13)
					total += counts[b]
				}
				dp.BucketCounts().FromRaw(counts)
				dp.SetCount(total)
				dp.SetSum(float64(total) * 0.04)
				attrs = dp.Attributes()
			default:
				var dps pmetric.NumberDataPointSlice
				switch {
				case c.instrument == gauge && metric.Type() == pmetric.MetricTypeGauge:
					dps = metric.Gauge().DataPoints()
				case c.instrument == gauge:
					dps = metric.SetEmptyGauge().DataPoints()
				case metric.Type() == pmetric.MetricTypeSum:
					dps = metric.Sum().DataPoints()
				default:
					sum := metric.SetEmptySum()
					sum.SetIsMonotonic(c.instrument == counter)
					sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
					dps = sum.DataPoints()
				}
				dp := dps.AppendEmpty()
				dp.SetStartTimestamp(g.base)
				dp.SetTimestamp(g.at(i))
				if c.instrument == gauge {
					dp.SetDoubleValue(float64(k%100) / 100)
				} else {
					dp.SetIntValue(int64(k%5000 + 1))
				}
				attrs = dp.Attributes()
			}
			for _, a := range c.attrs {
				a.put(attrs, k)
			}
		}
	}
	return md
}

// semconvLogs returns n log records, cycling through the catalog's events.
func (g synth) semconvLogs(v, n int, res *resourceSet) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	g.resource(rl.Resource(), res)
	rl.SetSchemaUrl(schemaURL)
	sl := rl.ScopeLogs().AppendEmpty()
	semScope(sl.Scope())
	cat := semconv()
	recs := sl.LogRecords()
	recs.EnsureCapacity(n)
	for i := range n {
		k := v*n + i
		c := cat.events[k%len(cat.events)]
		lr := recs.AppendEmpty()
		lr.SetTimestamp(g.at(i))
		lr.SetObservedTimestamp(g.at(i))
		lr.SetSeverityNumber(c.severity)
		lr.SetSeverityText(severityText(c.severity))
		lr.SetEventName(c.name)
		if c.body != "" {
			lr.Body().SetStr(c.body + " #" + strconv.Itoa(k))
		}
		for _, a := range c.attrs {
			a.put(lr.Attributes(), k)
		}
	}
	return ld
}

// schemaURL is the semantic-conventions version the catalog follows.
const schemaURL = "https://opentelemetry.io/schemas/1.30.0"

func severityText(s plog.SeverityNumber) string {
	switch s {
	case plog.SeverityNumberError:
		return "ERROR"
	case plog.SeverityNumberDebug:
		return "DEBUG"
	case plog.SeverityNumberWarn:
		return "WARN"
	}
	return "INFO"
}
