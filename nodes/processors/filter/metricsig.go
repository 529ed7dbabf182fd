package filter

import (
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// metricRule is a compiled MetricMatch: a metric matches when every
// property that is set matches.
type metricRule struct {
	names    stringMatcher
	resource []attrMatcher // all must match
}

// matchResource is the part of the rule decided once per resource.
func (r *metricRule) matchResource(rm pmetric.ResourceMetrics) bool {
	return allAttrs(r.resource, rm.Resource().Attributes())
}

// matchMetric is the rest, decided per metric.
func (r *metricRule) matchMetric(m pmetric.Metric) bool {
	return r.names.empty() || r.names.match(m.Name())
}

// metricsRules filter whole metrics: a metric is kept, with all its data
// points, when it matches include (if set) and does not match exclude (if
// set).
type metricsRules struct {
	include, exclude *metricRule
}

// decide appends one keep decision per metric of md to keep, in order,
// and returns it with the number of metrics kept.
func (f *metricsRules) decide(md pmetric.Metrics, keep []bool) ([]bool, int) {
	kept := 0
	for _, rm := range md.ResourceMetrics().All() {
		in := f.include == nil || f.include.matchResource(rm)
		ex := f.exclude != nil && f.exclude.matchResource(rm)
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				k := in && (f.include == nil || f.include.matchMetric(m)) && !(ex && f.exclude.matchMetric(m))
				keep = append(keep, k)
				if k {
					kept++
				}
			}
		}
	}
	return keep, kept
}

// keepMetrics copies the metrics of md that keep marks into new metrics,
// with their resources and scopes; those left without metrics are left
// out.
func keepMetrics(md pmetric.Metrics, keep []bool) pmetric.Metrics {
	out := pmetric.NewMetrics()
	i := 0
	for _, rm := range md.ResourceMetrics().All() {
		var orm pmetric.ResourceMetrics
		haveResource := false
		for _, sm := range rm.ScopeMetrics().All() {
			var osm pmetric.ScopeMetrics
			haveScope := false
			for _, m := range sm.Metrics().All() {
				k := keep[i]
				i++
				if !k {
					continue
				}
				if !haveResource {
					orm = out.ResourceMetrics().AppendEmpty()
					rm.Resource().CopyTo(orm.Resource())
					orm.SetSchemaUrl(rm.SchemaUrl())
					haveResource = true
				}
				if !haveScope {
					osm = orm.ScopeMetrics().AppendEmpty()
					sm.Scope().CopyTo(osm.Scope())
					osm.SetSchemaUrl(sm.SchemaUrl())
					haveScope = true
				}
				m.CopyTo(osm.Metrics().AppendEmpty())
			}
		}
	}
	return out
}
