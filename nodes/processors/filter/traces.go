package filter

import (
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// serviceName is the resource attribute that `services` matches.
const serviceName = "service.name"

// spanRule is a compiled SpanMatch: a span matches when every property
// that is set matches.
type spanRule struct {
	resource   []attrMatcher // all must match
	services   stringMatcher
	attributes []attrMatcher // at least one must match
	names      stringMatcher
	kinds      kindSet
	eventNames stringMatcher
	eventAttrs []attrMatcher // one event with one of them
	linkAttrs  []attrMatcher // one link with one of them
}

// matchResource is the part of the rule decided once per resource.
func (r *spanRule) matchResource(rs ptrace.ResourceSpans) bool {
	attrs := rs.Resource().Attributes()
	if !allAttrs(r.resource, attrs) {
		return false
	}
	if !r.services.empty() {
		v, ok := attrs.Get(serviceName)
		if !ok || !r.services.match(v.AsString()) {
			return false
		}
	}
	return true
}

// matchSpan is the rest, decided per span.
func (r *spanRule) matchSpan(sp ptrace.Span) bool {
	if !r.names.empty() && !r.names.match(sp.Name()) {
		return false
	}
	if r.kinds != 0 && !r.kinds.has(sp.Kind()) {
		return false
	}
	if len(r.attributes) > 0 && !anyAttr(r.attributes, sp.Attributes()) {
		return false
	}
	if !r.eventNames.empty() || len(r.eventAttrs) > 0 {
		if !r.matchEvents(sp.Events()) {
			return false
		}
	}
	if len(r.linkAttrs) > 0 && !r.matchLinks(sp.Links()) {
		return false
	}
	return true
}

// matchEvents: event_names and event_attributes each need a matching
// event (not necessarily the same one).
func (r *spanRule) matchEvents(evs ptrace.SpanEventSlice) bool {
	nameOK, attrOK := r.eventNames.empty(), len(r.eventAttrs) == 0
	for _, ev := range evs.All() {
		if !nameOK && r.eventNames.match(ev.Name()) {
			nameOK = true
		}
		if !attrOK && anyAttr(r.eventAttrs, ev.Attributes()) {
			attrOK = true
		}
		if nameOK && attrOK {
			return true
		}
	}
	return nameOK && attrOK
}

func (r *spanRule) matchLinks(links ptrace.SpanLinkSlice) bool {
	for _, l := range links.All() {
		if anyAttr(r.linkAttrs, l.Attributes()) {
			return true
		}
	}
	return false
}

// tracesRules filter spans: a span is kept when it matches include (if
// set) and does not match exclude (if set).
type tracesRules struct {
	include, exclude *spanRule
}

// decide appends one keep decision per span of td to keep, in order, and
// returns it with the number of spans kept.
func (f *tracesRules) decide(td ptrace.Traces, keep []bool) ([]bool, int) {
	kept := 0
	for _, rs := range td.ResourceSpans().All() {
		in := f.include == nil || f.include.matchResource(rs)
		ex := f.exclude != nil && f.exclude.matchResource(rs)
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				k := in && (f.include == nil || f.include.matchSpan(sp)) && !(ex && f.exclude.matchSpan(sp))
				keep = append(keep, k)
				if k {
					kept++
				}
			}
		}
	}
	return keep, kept
}

// keepTraces copies the spans of td that keep marks into new traces, with
// their resources and scopes; those left without spans are left out.
func keepTraces(td ptrace.Traces, keep []bool) ptrace.Traces {
	out := ptrace.NewTraces()
	i := 0
	for _, rs := range td.ResourceSpans().All() {
		var ors ptrace.ResourceSpans
		haveResource := false
		for _, ss := range rs.ScopeSpans().All() {
			var oss ptrace.ScopeSpans
			haveScope := false
			for _, sp := range ss.Spans().All() {
				k := keep[i]
				i++
				if !k {
					continue
				}
				if !haveResource {
					ors = out.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(ors.Resource())
					ors.SetSchemaUrl(rs.SchemaUrl())
					haveResource = true
				}
				if !haveScope {
					oss = ors.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(oss.Scope())
					oss.SetSchemaUrl(ss.SchemaUrl())
					haveScope = true
				}
				sp.CopyTo(oss.Spans().AppendEmpty())
			}
		}
	}
	return out
}
