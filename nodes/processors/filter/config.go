package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
)

// Config is the `config` block of a processor:filter node: independent
// rules per signal. A signal without include or exclude passes untouched
// and is never decoded.
type Config struct {
	// Logs filters log records.
	Logs LogsConfig `yaml:"logs"`
	// Metrics filters whole metrics (with all their data points).
	Metrics MetricsConfig `yaml:"metrics"`
	// Traces filters spans.
	Traces TracesConfig `yaml:"traces"`
}

// LogsConfig are the rules for log records. A record is kept when it
// matches Include (if set) and does not match Exclude (if set).
type LogsConfig struct {
	// Include, if set, keeps only the records it matches.
	Include *LogMatch `yaml:"include"`
	// Exclude, if set, drops the records it matches.
	Exclude *LogMatch `yaml:"exclude"`
	// LogRecord is the reference engine's slot for OTTL conditions, which
	// it does not implement either. Only an empty list is accepted:
	// conditions that were silently ignored would keep data the user
	// meant to drop.
	LogRecord []string `yaml:"log_record"`
}

// LogMatch says which log records a rule matches: a record matches when
// every property that is set matches.
type LogMatch struct {
	// MatchType is how strings are compared: strict (default) or regexp.
	MatchType MatchType `yaml:"match_type"`
	// ResourceAttributes must all match the record's resource attributes.
	ResourceAttributes []Attribute `yaml:"resource_attributes"`
	// RecordAttributes: at least one must match the record's attributes.
	RecordAttributes []Attribute `yaml:"record_attributes"`
	// SeverityTexts: the record's severity text matches one of them.
	SeverityTexts []string `yaml:"severity_texts"`
	// SeverityNumber: the record's severity number is at least Min.
	SeverityNumber *SeverityNumber `yaml:"severity_number"`
	// Bodies: the record's body matches one of them (a string, number,
	// boolean, list or mapping; strings follow MatchType).
	Bodies []any `yaml:"bodies"`
}

// SeverityNumber matches log records by severity number.
type SeverityNumber struct {
	// Min is the lowest severity that matches: a number from 1 (TRACE) to
	// 24 (FATAL4), or a name such as INFO, warn or ERROR2.
	Min *Severity `yaml:"min"`
	// MatchUndefined makes records without a severity number (0) match too.
	MatchUndefined bool `yaml:"match_undefined"`
}

// TracesConfig are the rules for spans. A span is kept when it matches
// Include (if set) and does not match Exclude (if set).
type TracesConfig struct {
	// Include, if set, keeps only the spans it matches.
	Include *SpanMatch `yaml:"include"`
	// Exclude, if set, drops the spans it matches.
	Exclude *SpanMatch `yaml:"exclude"`
}

// SpanMatch says which spans a rule matches: a span matches when every
// property that is set matches.
type SpanMatch struct {
	// MatchType is how strings are compared: strict (default) or regexp.
	MatchType MatchType `yaml:"match_type"`
	// ResourceAttributes must all match the span's resource attributes.
	ResourceAttributes []Attribute `yaml:"resource_attributes"`
	// Services: the resource's service.name matches one of them (the
	// Collector's key).
	Services []string `yaml:"services"`
	// SpanAttributes: at least one must match the span's attributes.
	SpanAttributes []Attribute `yaml:"span_attributes"`
	// SpanNames: the span's name matches one of them.
	SpanNames []string `yaml:"span_names"`
	// SpanKinds: the span's kind is one of them (server, client, producer,
	// consumer, internal, unspecified; the Collector's key). Never a regexp.
	SpanKinds []string `yaml:"span_kinds"`
	// EventNames: one of the span's events has a name matching one of them.
	EventNames []string `yaml:"event_names"`
	// EventAttributes: one of the span's events has an attribute matching
	// one of them.
	EventAttributes []Attribute `yaml:"event_attributes"`
	// LinkAttributes: one of the span's links has an attribute matching
	// one of them.
	LinkAttributes []Attribute `yaml:"link_attributes"`
}

// MetricsConfig are the rules for metrics. A metric is kept, with all its
// data points, when it matches Include (if set) and does not match
// Exclude (if set).
type MetricsConfig struct {
	// Include, if set, keeps only the metrics it matches.
	Include *MetricMatch `yaml:"include"`
	// Exclude, if set, drops the metrics it matches.
	Exclude *MetricMatch `yaml:"exclude"`
}

// MetricMatch says which metrics a rule matches: a metric matches when
// every property that is set matches.
type MetricMatch struct {
	// MatchType is how strings are compared: strict (default) or regexp.
	MatchType MatchType `yaml:"match_type"`
	// MetricNames: the metric's name matches one of them.
	MetricNames []string `yaml:"metric_names"`
	// ResourceAttributes must all match the metric's resource attributes
	// (the Collector's key).
	ResourceAttributes []Attribute `yaml:"resource_attributes"`
}

// Attribute matches one attribute: Key must be present and, if Value is
// set, hold it. A string value follows the rule's match_type; numbers,
// booleans, lists and mappings must be equal (an integer equals the same
// floating-point number).
type Attribute struct {
	// Key is the attribute's name (required).
	Key string `yaml:"key"`
	// Value is what it must hold; nil (absent) matches any value.
	Value any `yaml:"value"`
}

// MatchType is how a rule compares strings.
type MatchType string

// Match types. The empty value is Strict.
const (
	// Strict compares whole strings, case-sensitively.
	Strict MatchType = "strict"
	// Regexp matches RE2 regular expressions, unanchored as in the
	// reference engine and the Collector: "err" matches "server error";
	// write ^err$ to match the whole string.
	Regexp MatchType = "regexp"
)

// Severity is a log severity number, written in the configuration as a
// number (1 to 24; 0, the undefined severity, makes min match every record)
// or a name from the OpenTelemetry log data model (TRACE,
// TRACE2, ..., FATAL4, in any case, with or without SEVERITY_NUMBER_).
type Severity int32

// severityHint says how to write a severity.
const severityHint = "write a number from 1 to 24 or a name such as TRACE, DEBUG, INFO, WARN, ERROR, FATAL (optionally followed by 2, 3 or 4: WARN2)"

// severityBases are the log data model's severity names, each the first
// of four numbers: TRACE is 1, TRACE2 2, ..., FATAL4 24.
var severityBases = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// severityNamed reads TRACE, TRACE2, TRACE3, TRACE4, DEBUG, ..., FATAL4.
func severityNamed(name string) (Severity, bool) {
	for i, base := range severityBases {
		rest, ok := strings.CutPrefix(name, base)
		if !ok {
			continue
		}
		first := Severity(1 + 4*i)
		switch rest {
		case "":
			return first, true
		case "2", "3", "4":
			return first + Severity(rest[0]-'1'), true
		}
	}
	return 0, false
}

// ParseSeverity reads a severity number or name.
func ParseSeverity(s string) (Severity, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		if n < 0 || n > 24 {
			return 0, fmt.Errorf("severity number %d is out of range 0 to 24", n)
		}
		return Severity(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SEVERITY_NUMBER_")
	if v, ok := severityNamed(name); ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown severity %q", s)
}

// UnmarshalYAML reads a number or a name.
func (s *Severity) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &config.Error{Msg: "want a severity number or name", Hint: severityHint, Err: config.ErrType}
	}
	v, err := ParseSeverity(n.Value)
	if err != nil {
		return &config.Error{Msg: err.Error(), Hint: severityHint, Err: config.ErrInvalidValue}
	}
	*s = v
	return nil
}

// ReasonFiltered is the `reason` of the items this node drops, in
// ackflow_node_dropped_items_total.
const ReasonFiltered = "filtered"

// settings is a decoded, validated and compiled configuration: what a
// node is built from. Regexps are compiled here, once.
type settings struct {
	logs    *logsRules    // nil: logs pass untouched
	metrics *metricsRules // nil: metrics pass untouched
	traces  *tracesRules  // nil: traces pass untouched
}

// decodeConfig decodes, validates and compiles the node's config block;
// every problem is reported at once under its YAML path.
func decodeConfig(n *config.Node) (settings, error) {
	var s settings
	_, err := config.DecodeNodeConfig(n, Config{}, func(c *Config, p config.Path) error {
		var err error
		s, err = c.compile(p)
		return errors.Join(err, n.CheckSingleOutput())
	})
	return s, err
}

// Validate reports every invalid value under p (the node's `config`
// path), each naming the key and the fix.
func (c *Config) Validate(p config.Path) error {
	_, err := c.compile(p)
	return err
}

// compile checks c and builds the matchers.
func (c *Config) compile(p config.Path) (settings, error) {
	var (
		s    settings
		errs []error
	)
	cc := &compiler{errs: &errs}
	if l := c.Logs; l.Include != nil || l.Exclude != nil {
		lp := p.Key("logs")
		s.logs = &logsRules{
			include: cc.logMatch(l.Include, lp.Key("include")),
			exclude: cc.logMatch(l.Exclude, lp.Key("exclude")),
		}
	}
	if len(c.Logs.LogRecord) > 0 {
		errs = append(errs, config.Errorf(p.Key("logs").Key("log_record"),
			"express the condition with logs.include or logs.exclude rules, or remove log_record (the reference engine ignores it)",
			"OTTL conditions are not supported"))
	}
	if m := c.Metrics; m.Include != nil || m.Exclude != nil {
		mp := p.Key("metrics")
		s.metrics = &metricsRules{
			include: cc.metricMatch(m.Include, mp.Key("include")),
			exclude: cc.metricMatch(m.Exclude, mp.Key("exclude")),
		}
	}
	if t := c.Traces; t.Include != nil || t.Exclude != nil {
		tp := p.Key("traces")
		s.traces = &tracesRules{
			include: cc.spanMatch(t.Include, tp.Key("include")),
			exclude: cc.spanMatch(t.Exclude, tp.Key("exclude")),
		}
	}
	return s, errors.Join(errs...)
}

// compiler turns rules into matchers, collecting every error.
type compiler struct {
	errs *[]error
}

func (cc *compiler) fail(p config.Path, hint, format string, args ...any) {
	*cc.errs = append(*cc.errs, config.Errorf(p, hint, format, args...))
}

// matchType reads a rule's match_type.
func (cc *compiler) matchType(t MatchType, p config.Path) MatchType {
	switch t {
	case "", Strict:
		return Strict
	case Regexp:
		return Regexp
	case "expr":
		cc.fail(p.Key("match_type"), "use strict or regexp on metric_names: expr expressions are not supported",
			"match_type %q is not supported", t)
	default:
		cc.fail(p.Key("match_type"), "use strict (whole strings) or regexp (RE2, unanchored)",
			"unknown match_type %q", t)
	}
	return Strict
}

// noProperties reports a rule that sets nothing to match. The reference
// engine lets such an include keep everything and such an exclude drop
// nothing; by the usual rule (every property set matches) it would match
// everything. Neither is what anyone means, so it is an error.
func (cc *compiler) noProperties(p config.Path, keys string) {
	cc.fail(p, "set at least one of "+keys+", or remove the rule",
		"the rule sets nothing to match")
}

func (cc *compiler) logMatch(m *LogMatch, p config.Path) *logRule {
	if m == nil {
		return nil
	}
	mt := cc.matchType(m.MatchType, p)
	r := &logRule{
		resource:  cc.attributes(m.ResourceAttributes, mt, p.Key("resource_attributes")),
		record:    cc.attributes(m.RecordAttributes, mt, p.Key("record_attributes")),
		sevTexts:  cc.strings(m.SeverityTexts, mt, p.Key("severity_texts")),
		bodies:    cc.values(m.Bodies, mt, p.Key("bodies")),
		sevNumber: cc.severity(m.SeverityNumber, p.Key("severity_number")),
	}
	if len(m.ResourceAttributes)+len(m.RecordAttributes)+len(m.SeverityTexts)+len(m.Bodies) == 0 && m.SeverityNumber == nil {
		cc.noProperties(p, "resource_attributes, record_attributes, severity_texts, severity_number, bodies")
	}
	return r
}

func (cc *compiler) severity(s *SeverityNumber, p config.Path) *severityRule {
	if s == nil {
		return nil
	}
	if s.Min == nil {
		cc.fail(p.Key("min"), "add min: WARN (or a number from 1 to 24)", "severity_number needs min")
		return nil
	}
	return &severityRule{min: int32(*s.Min), undefined: s.MatchUndefined}
}

func (cc *compiler) spanMatch(m *SpanMatch, p config.Path) *spanRule {
	if m == nil {
		return nil
	}
	mt := cc.matchType(m.MatchType, p)
	r := &spanRule{
		resource:   cc.attributes(m.ResourceAttributes, mt, p.Key("resource_attributes")),
		services:   cc.strings(m.Services, mt, p.Key("services")),
		attributes: cc.attributes(m.SpanAttributes, mt, p.Key("span_attributes")),
		names:      cc.strings(m.SpanNames, mt, p.Key("span_names")),
		kinds:      cc.spanKinds(m.SpanKinds, p.Key("span_kinds")),
		eventNames: cc.strings(m.EventNames, mt, p.Key("event_names")),
		eventAttrs: cc.attributes(m.EventAttributes, mt, p.Key("event_attributes")),
		linkAttrs:  cc.attributes(m.LinkAttributes, mt, p.Key("link_attributes")),
	}
	if len(m.ResourceAttributes)+len(m.Services)+len(m.SpanAttributes)+len(m.SpanNames)+len(m.SpanKinds)+
		len(m.EventNames)+len(m.EventAttributes)+len(m.LinkAttributes) == 0 {
		cc.noProperties(p, "resource_attributes, services, span_attributes, span_names, span_kinds, event_names, event_attributes, link_attributes")
	}
	return r
}

func (cc *compiler) metricMatch(m *MetricMatch, p config.Path) *metricRule {
	if m == nil {
		return nil
	}
	mt := cc.matchType(m.MatchType, p)
	r := &metricRule{
		names:    cc.strings(m.MetricNames, mt, p.Key("metric_names")),
		resource: cc.attributes(m.ResourceAttributes, mt, p.Key("resource_attributes")),
	}
	if len(m.MetricNames)+len(m.ResourceAttributes) == 0 {
		cc.noProperties(p, "metric_names, resource_attributes")
	}
	return r
}

// strings compiles a list of strings or regexps.
func (cc *compiler) strings(list []string, mt MatchType, p config.Path) stringMatcher {
	var m stringMatcher
	for i, s := range list {
		if mt == Regexp {
			re, err := compileRegexp(s)
			if err != nil {
				cc.fail(p.Index(i), regexpHint, "%v", err)
				continue
			}
			m.res = append(m.res, re)
			continue
		}
		m.exact = append(m.exact, s)
	}
	m.index()
	return m
}

// attributes compiles a list of attribute matchers.
func (cc *compiler) attributes(list []Attribute, mt MatchType, p config.Path) []attrMatcher {
	out := make([]attrMatcher, 0, len(list))
	for i, a := range list {
		ap := p.Index(i)
		if a.Key == "" {
			cc.fail(ap.Key("key"), "name the attribute, e.g. key: service.name", "the attribute key is empty")
			continue
		}
		v, ok := cc.value(a.Value, mt, ap.Key("value"), true)
		if ok {
			out = append(out, attrMatcher{key: a.Key, value: v})
		}
	}
	return out
}

// values compiles a list of values (bodies).
func (cc *compiler) values(list []any, mt MatchType, p config.Path) []valueMatcher {
	out := make([]valueMatcher, 0, len(list))
	for i, x := range list {
		if v, ok := cc.value(x, mt, p.Index(i), false); ok {
			out = append(out, v)
		}
	}
	return out
}

// value compiles one value to match. nil matches any value when
// allowAny (an attribute given by key only).
func (cc *compiler) value(x any, mt MatchType, p config.Path, allowAny bool) (valueMatcher, bool) {
	if x == nil && !allowAny {
		cc.fail(p, "write the value to match, e.g. a string, number or boolean", "the value is empty")
		return valueMatcher{}, false
	}
	v, err := newValueMatcher(x, mt)
	if err != nil {
		hint := "write a string, number, boolean, list or mapping; quote it to match it as text"
		if mt == Regexp {
			hint = regexpHint
		}
		cc.fail(p, hint, "%v", err)
		return valueMatcher{}, false
	}
	return v, true
}

// spanKinds reads span kind names into a bit set.
func (cc *compiler) spanKinds(list []string, p config.Path) kindSet {
	var set kindSet
	for i, s := range list {
		k, ok := parseSpanKind(s)
		if !ok {
			cc.fail(p.Index(i), "use one of server, client, producer, consumer, internal, unspecified (SPAN_KIND_SERVER and Server work too)",
				"unknown span kind %q", s)
			continue
		}
		set |= 1 << k
	}
	return set
}
