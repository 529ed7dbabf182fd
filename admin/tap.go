package admin

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// Tapper is implemented by an Engine that can tap node outputs (the
// engine's Engine does); without it GET /api/v1/tap answers 501.
type Tapper interface {
	Tap(engine.TapOptions) (*engine.Tap, error)
}

// Headers of a GET /api/v1/tap answer. TapHeader names what is tapped
// ("pipeline node port"); the trailers, sent when the stream ends, count
// the samples written and those the tap dropped because this client read
// slower than the traffic (the pipeline never waits for a tap).
const (
	TapHeader          = "X-Ackflow-Tap"
	TapSamplesTrailer  = "X-Ackflow-Tap-Samples"
	TapDroppedTrailer  = "X-Ackflow-Tap-Dropped"
	tapSkippedTrailer  = "X-Ackflow-Tap-Undecodable"
	maxTapRatePerSec   = 10000
	ndjsonContentType  = "application/x-ndjson"
	tapQueryParameters = "pipeline, node, port, limit, rate"
)

// handleTap streams what passes on a node's output port, one OTLP JSON
// document per line, until limit samples were written, the client goes,
// or the pipeline stops:
//
//	GET /api/v1/tap?pipeline=g/p&node=batch&port=default&limit=10&rate=5
func (s *Server) handleTap(w http.ResponseWriter, r *http.Request) {
	tapper, ok := s.engine.(Tapper)
	if !ok {
		http.Error(w, "this engine offers no tap", http.StatusNotImplemented)
		return
	}
	o, limit, err := tapOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tap, err := tapper.Tap(o)
	switch {
	case errors.Is(err, engine.ErrUnknownNode), errors.Is(err, engine.ErrUnknownPort):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer tap.Close()

	h := w.Header()
	h.Set("Content-Type", ndjsonContentType)
	h.Set("Cache-Control", "no-store")
	h.Set(TapHeader, tap.Pipeline+" "+tap.Node+" "+tap.Port)
	h.Set("Trailer", TapSamplesTrailer+", "+TapDroppedTrailer+", "+tapSkippedTrailer)
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()

	written, skipped := 0, 0
	write := func(smp engine.TapSample) bool {
		line, err := OTLPJSON(smp.Payload)
		if err != nil {
			skipped++
			return true
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return false // the client went
		}
		flush()
		written++
		return true
	}
loop:
	for limit == 0 || written < limit {
		select {
		case <-r.Context().Done():
			break loop
		case smp := <-tap.C:
			if !write(smp) {
				break loop
			}
		case <-tap.Done():
			// The pipeline stopped: what the tap still holds, then the end.
			for limit == 0 || written < limit {
				select {
				case smp := <-tap.C:
					if !write(smp) {
						break loop
					}
				default:
					break loop
				}
			}
			break loop
		}
	}
	tap.Close()
	h.Set(TapSamplesTrailer, strconv.Itoa(written))
	h.Set(TapDroppedTrailer, strconv.FormatUint(tap.Dropped(), 10))
	h.Set(tapSkippedTrailer, strconv.Itoa(skipped))
}

var tapKnown = map[string]bool{"pipeline": true, "node": true, "port": true, "limit": true, "rate": true}

// tapOptions reads the query of a tap request.
func tapOptions(r *http.Request) (engine.TapOptions, int, error) {
	q := r.URL.Query()
	for k := range q {
		if !tapKnown[k] {
			return engine.TapOptions{}, 0, fmt.Errorf("unknown parameter %q: the tap takes %s", k, tapQueryParameters)
		}
	}
	o := engine.TapOptions{Pipeline: q.Get("pipeline"), Node: q.Get("node"), Port: q.Get("port")}
	if o.Node == "" {
		return o, 0, errors.New("node is required: GET /api/v1/tap?node=NAME[&port=PORT][&pipeline=GROUP/PIPELINE][&limit=N][&rate=R]")
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, 0, fmt.Errorf("limit %q: want a number of samples, 0 or more (0: until the client goes)", v)
		}
		limit = n
	}
	if v := q.Get("rate"); v != "" {
		rate, err := ParseRate(v)
		if err != nil {
			return o, 0, err
		}
		o.Rate = rate
	}
	return o, limit, nil
}

// ParseRate reads a sampling rate in samples per second: "5", "5/s",
// "0.5" or "30/m"; 0 means no limit.
func ParseRate(v string) (float64, error) {
	num, per := v, 1.0
	if n, unit, ok := strings.Cut(v, "/"); ok {
		num = n
		switch unit {
		case "s":
		case "m":
			per = 60
		case "h":
			per = 3600
		default:
			return 0, fmt.Errorf("rate %q: the unit is /s, /m or /h", v)
		}
	}
	r, err := strconv.ParseFloat(num, 64)
	if err != nil || r < 0 || math.IsNaN(r) || math.IsInf(r, 0) || r/per > maxTapRatePerSec {
		return 0, fmt.Errorf("rate %q: want samples per second from 0 (no limit) to %d, e.g. 5 or 5/s or 30/m", v, maxTapRatePerSec)
	}
	return r / per, nil
}

// OTLPJSON encodes a payload as one OTLP/JSON export request (the
// encoding of the collector's pdata JSON marshalers), on one line. It
// decodes a private copy of OTLP bytes, so the payload, which the
// pipeline shares, is not changed (no decoded form is cached in it).
func OTLPJSON(p *pdata.Payload) ([]byte, error) {
	v, err := privateDecode(p)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case plog.Logs:
		return (&plog.JSONMarshaler{}).MarshalLogs(v)
	case pmetric.Metrics:
		return (&pmetric.JSONMarshaler{}).MarshalMetrics(v)
	case ptrace.Traces:
		return (&ptrace.JSONMarshaler{}).MarshalTraces(v)
	}
	return nil, fmt.Errorf("tap: payload of signal %s decoded to %T", p.Signal(), v)
}

func privateDecode(p *pdata.Payload) (any, error) {
	switch p.Form() {
	case pdata.FormDecoded:
		switch p.Signal() {
		case pdata.Logs:
			return p.Logs()
		case pdata.Metrics:
			return p.Metrics()
		default:
			return p.Traces()
		}
	case pdata.FormOTAP:
		c, ok := p.Columnar()
		if !ok {
			return nil, errors.New("tap: OTAP payload without records")
		}
		return c.ToPdata()
	}
	b, err := p.AppendOTLP(nil)
	if err != nil {
		return nil, err
	}
	switch p.Signal() {
	case pdata.Logs:
		return (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
	case pdata.Metrics:
		return (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
	default:
		return (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	}
}
