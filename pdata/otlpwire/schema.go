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

// schema holds the message names of one signal, used in error messages.
type schema struct {
	signal   string
	request  string
	resource string
	scope    string
	item     string // the item record; metrics walk Metric and data points instead
}

var schemas = [...]schema{
	Logs: {
		signal:   "logs",
		request:  "ExportLogsServiceRequest",
		resource: "ResourceLogs",
		scope:    "ScopeLogs",
		item:     "LogRecord",
	},
	Metrics: {
		signal:   "metrics",
		request:  "ExportMetricsServiceRequest",
		resource: "ResourceMetrics",
		scope:    "ScopeMetrics",
		item:     "Metric",
	},
	Traces: {
		signal:   "traces",
		request:  "ExportTraceServiceRequest",
		resource: "ResourceSpans",
		scope:    "ScopeSpans",
		item:     "Span",
	},
}

// dataKind describes one of the Metric.data oneof fields.
type dataKind struct {
	container string // the container message
	point     string // its data point message
	// temporality and monotonic say whether the container has the
	// aggregation_temporality and is_monotonic varint fields.
	temporality, monotonic bool
}

// dataKinds describes the Metric.data fields, indexed by field number.
var dataKinds = [...]dataKind{
	fieldMetricGauge:        {container: "Gauge", point: "NumberDataPoint"},
	fieldMetricSum:          {container: "Sum", point: "NumberDataPoint", temporality: true, monotonic: true},
	fieldMetricHistogram:    {container: "Histogram", point: "HistogramDataPoint", temporality: true},
	fieldMetricExpHistogram: {container: "ExponentialHistogram", point: "ExponentialHistogramDataPoint", temporality: true},
	fieldMetricSummary:      {container: "Summary", point: "SummaryDataPoint"},
}
