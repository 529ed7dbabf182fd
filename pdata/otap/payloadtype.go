package otap

import (
	"fmt"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"

	"github.com/ackflow/ackflow/pdata"
)

// role is what a payload type is to the signal that carries it.
type role uint8

const (
	roleNone    role = iota // not a payload type of this signal
	roleMain                // the record the converter starts from: one per batch
	roleItems               // rows are the signal's items (data points)
	roleRelated             // attributes, events, links, exemplars
)

// roles maps each signal's payload types to their role. The library
// produces UNIVARIATE_METRICS as the metrics main record; its converter
// knows no MULTIVARIATE_METRICS, so a stream that sends one is refused
// rather than accepted into a batch that could never be converted.
var roles = map[pdata.Signal]map[arrowpb.ArrowPayloadType]role{
	pdata.Logs: {
		arrowpb.ArrowPayloadType_LOGS:           roleMain,
		arrowpb.ArrowPayloadType_RESOURCE_ATTRS: roleRelated,
		arrowpb.ArrowPayloadType_SCOPE_ATTRS:    roleRelated,
		arrowpb.ArrowPayloadType_LOG_ATTRS:      roleRelated,
	},
	pdata.Traces: {
		arrowpb.ArrowPayloadType_SPANS:            roleMain,
		arrowpb.ArrowPayloadType_RESOURCE_ATTRS:   roleRelated,
		arrowpb.ArrowPayloadType_SCOPE_ATTRS:      roleRelated,
		arrowpb.ArrowPayloadType_SPAN_ATTRS:       roleRelated,
		arrowpb.ArrowPayloadType_SPAN_EVENTS:      roleRelated,
		arrowpb.ArrowPayloadType_SPAN_LINKS:       roleRelated,
		arrowpb.ArrowPayloadType_SPAN_EVENT_ATTRS: roleRelated,
		arrowpb.ArrowPayloadType_SPAN_LINK_ATTRS:  roleRelated,
	},
	pdata.Metrics: {
		arrowpb.ArrowPayloadType_UNIVARIATE_METRICS:              roleMain,
		arrowpb.ArrowPayloadType_NUMBER_DATA_POINTS:              roleItems,
		arrowpb.ArrowPayloadType_SUMMARY_DATA_POINTS:             roleItems,
		arrowpb.ArrowPayloadType_HISTOGRAM_DATA_POINTS:           roleItems,
		arrowpb.ArrowPayloadType_EXP_HISTOGRAM_DATA_POINTS:       roleItems,
		arrowpb.ArrowPayloadType_RESOURCE_ATTRS:                  roleRelated,
		arrowpb.ArrowPayloadType_SCOPE_ATTRS:                     roleRelated,
		arrowpb.ArrowPayloadType_NUMBER_DP_ATTRS:                 roleRelated,
		arrowpb.ArrowPayloadType_SUMMARY_DP_ATTRS:                roleRelated,
		arrowpb.ArrowPayloadType_HISTOGRAM_DP_ATTRS:              roleRelated,
		arrowpb.ArrowPayloadType_EXP_HISTOGRAM_DP_ATTRS:          roleRelated,
		arrowpb.ArrowPayloadType_NUMBER_DP_EXEMPLARS:             roleRelated,
		arrowpb.ArrowPayloadType_HISTOGRAM_DP_EXEMPLARS:          roleRelated,
		arrowpb.ArrowPayloadType_EXP_HISTOGRAM_DP_EXEMPLARS:      roleRelated,
		arrowpb.ArrowPayloadType_NUMBER_DP_EXEMPLAR_ATTRS:        roleRelated,
		arrowpb.ArrowPayloadType_HISTOGRAM_DP_EXEMPLAR_ATTRS:     roleRelated,
		arrowpb.ArrowPayloadType_EXP_HISTOGRAM_DP_EXEMPLAR_ATTRS: roleRelated,
	},
}

// roleOf returns the role of payload type t in signal s, or an error
// wrapping ErrInvalid naming what t is instead.
func roleOf(s pdata.Signal, t arrowpb.ArrowPayloadType) (role, error) {
	if r := roles[s][t]; r != roleNone {
		return r, nil
	}
	for other, types := range roles {
		if types[t] != roleNone {
			return roleNone, fmt.Errorf("%w: payload type %s belongs to %s, not %s", ErrInvalid, t, other, s)
		}
	}
	if t == arrowpb.ArrowPayloadType_MULTIVARIATE_METRICS && s == pdata.Metrics {
		return roleNone, fmt.Errorf("%w: payload type %s is not supported", ErrInvalid, t)
	}
	return roleNone, fmt.Errorf("%w: unknown payload type %s", ErrInvalid, t)
}

// countsItems reports whether the rows of a record of role r are items of
// its signal: the main record's rows for logs (log records) and traces
// (spans), the data point records' rows for metrics.
func countsItems(s pdata.Signal, r role) bool {
	if s == pdata.Metrics {
		return r == roleItems
	}
	return r == roleMain
}
