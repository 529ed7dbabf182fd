package otlpwire

// Field numbers from opentelemetry-proto, checked against the generated
// UnmarshalProto code of go.opentelemetry.io/collector/pdata v1.70.0. The
// resource and scope levels use the same numbers for all three signals.
const (
	fieldRequestResources = 1 // Export*ServiceRequest.resource_{logs,metrics,spans}

	fieldResourceResource  = 1    // Resource{Logs,Metrics,Spans}.resource
	fieldResourceScopes    = 2    // .scope_{logs,metrics,spans}
	fieldResourceSchemaURL = 3    // .schema_url
	fieldResourceOldScopes = 1000 // deprecated instrumentation_library_{logs,metrics,spans}

	fieldScopeScope     = 1 // Scope{Logs,Metrics,Spans}.scope
	fieldScopeItems     = 2 // .log_records, .metrics, .spans
	fieldScopeSchemaURL = 3 // .schema_url

	fieldMetricName         = 1
	fieldMetricDescription  = 2
	fieldMetricUnit         = 3
	fieldMetricGauge        = 5
	fieldMetricSum          = 7
	fieldMetricHistogram    = 9
	fieldMetricExpHistogram = 10
	fieldMetricSummary      = 11
	fieldMetricMetadata     = 12

	fieldDataPoints      = 1 // {Gauge,Sum,Histogram,ExponentialHistogram,Summary}.data_points
	fieldDataTemporality = 2 // Sum, Histogram, ExponentialHistogram .aggregation_temporality
	fieldSumMonotonic    = 3 // Sum.is_monotonic
)

// schema holds the message and field names of one signal, used in error
// messages.
type schema struct {
	signal   string
	request  string
	resource string
	scope    string
	item     string // the item record; metrics walk Metric and data points instead
	itemType msgType
	// Field names of the request, resource entry and scope entry levels.
	resourceField, scopeField, oldScopeField, itemField string
}

var schemas = [...]schema{
	Logs: {
		signal:   "logs",
		request:  "ExportLogsServiceRequest",
		resource: "ResourceLogs",
		scope:    "ScopeLogs",
		item:     "LogRecord",
		itemType: tLogRecord,

		resourceField: "resource_logs", scopeField: "scope_logs",
		oldScopeField: "instrumentation_library_logs", itemField: "log_records",
	},
	Metrics: {
		signal:   "metrics",
		request:  "ExportMetricsServiceRequest",
		resource: "ResourceMetrics",
		scope:    "ScopeMetrics",
		item:     "Metric",
		itemType: tMetric,

		resourceField: "resource_metrics", scopeField: "scope_metrics",
		oldScopeField: "instrumentation_library_metrics", itemField: "metrics",
	},
	Traces: {
		signal:   "traces",
		request:  "ExportTraceServiceRequest",
		resource: "ResourceSpans",
		scope:    "ScopeSpans",
		item:     "Span",
		itemType: tSpan,

		resourceField: "resource_spans", scopeField: "scope_spans",
		oldScopeField: "instrumentation_library_spans", itemField: "spans",
	},
}

// dataKind describes one of the Metric.data oneof fields.
type dataKind struct {
	field     string  // the Metric field's name
	container string  // the container message
	point     string  // its data point message
	pointType msgType // the same, for the value walk
	// temporality and monotonic say whether the container has the
	// aggregation_temporality and is_monotonic varint fields.
	temporality, monotonic bool
}

// dataKinds describes the Metric.data fields, indexed by field number.
var dataKinds = [...]dataKind{
	fieldMetricGauge:        {field: "gauge", container: "Gauge", point: "NumberDataPoint", pointType: tNumberPoint},
	fieldMetricSum:          {field: "sum", container: "Sum", point: "NumberDataPoint", pointType: tNumberPoint, temporality: true, monotonic: true},
	fieldMetricHistogram:    {field: "histogram", container: "Histogram", point: "HistogramDataPoint", pointType: tHistogramPoint, temporality: true},
	fieldMetricExpHistogram: {field: "exponential_histogram", container: "ExponentialHistogram", point: "ExponentialHistogramDataPoint", pointType: tExpHistogramPoint, temporality: true},
	fieldMetricSummary:      {field: "summary", container: "Summary", point: "SummaryDataPoint", pointType: tSummaryPoint},
}
