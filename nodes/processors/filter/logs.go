package filter

import (
	"go.opentelemetry.io/collector/pdata/plog"
)

// logRule is a compiled LogMatch: a record matches when every property
// that is set matches.
type logRule struct {
	resource  []attrMatcher // all must match
	record    []attrMatcher // at least one must match
	sevTexts  stringMatcher
	sevNumber *severityRule
	bodies    []valueMatcher // at least one must match
}

// severityRule matches severity numbers from min up, and 0 (undefined)
// when undefined is set.
type severityRule struct {
	min       int32
	undefined bool
}

// matchResource is the part of the rule decided once per resource.
func (r *logRule) matchResource(rl plog.ResourceLogs) bool {
	return allAttrs(r.resource, rl.Resource().Attributes())
}

// matchRecord is the rest, decided per record.
func (r *logRule) matchRecord(lr plog.LogRecord) bool {
	if !r.sevTexts.empty() && !r.sevTexts.match(lr.SeverityText()) {
		return false
	}
	if s := r.sevNumber; s != nil {
		n := int32(lr.SeverityNumber())
		if !(n >= s.min || s.undefined && n == int32(plog.SeverityNumberUnspecified)) {
			return false
		}
	}
	if len(r.bodies) > 0 && !anyValue(r.bodies, lr.Body()) {
		return false
	}
	if len(r.record) > 0 && !anyAttr(r.record, lr.Attributes()) {
		return false
	}
	return true
}

// logsRules filter log records: a record is kept when it matches include
// (if set) and does not match exclude (if set).
type logsRules struct {
	include, exclude *logRule
}

// decide appends one keep decision per record of ld to keep, in order,
// and returns it with the number of records kept.
func (f *logsRules) decide(ld plog.Logs, keep []bool) ([]bool, int) {
	kept := 0
	for _, rl := range ld.ResourceLogs().All() {
		in := f.include == nil || f.include.matchResource(rl)
		ex := f.exclude != nil && f.exclude.matchResource(rl)
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				k := in && (f.include == nil || f.include.matchRecord(lr)) && !(ex && f.exclude.matchRecord(lr))
				keep = append(keep, k)
				if k {
					kept++
				}
			}
		}
	}
	return keep, kept
}

// keepLogs copies the records of ld that keep marks (one decision per
// record, in order) into new logs, with their resources and scopes.
// Resources and scopes left without records are left out.
func keepLogs(ld plog.Logs, keep []bool) plog.Logs {
	out := plog.NewLogs()
	i := 0
	for _, rl := range ld.ResourceLogs().All() {
		var orl plog.ResourceLogs
		haveResource := false
		for _, sl := range rl.ScopeLogs().All() {
			var osl plog.ScopeLogs
			haveScope := false
			for _, lr := range sl.LogRecords().All() {
				k := keep[i]
				i++
				if !k {
					continue
				}
				if !haveResource {
					orl = out.ResourceLogs().AppendEmpty()
					rl.Resource().CopyTo(orl.Resource())
					orl.SetSchemaUrl(rl.SchemaUrl())
					haveResource = true
				}
				if !haveScope {
					osl = orl.ScopeLogs().AppendEmpty()
					sl.Scope().CopyTo(osl.Scope())
					osl.SetSchemaUrl(sl.SchemaUrl())
					haveScope = true
				}
				lr.CopyTo(osl.LogRecords().AppendEmpty())
			}
		}
	}
	return out
}
