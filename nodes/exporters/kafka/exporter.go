package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Type is the node type.
const Type = "exporter:kafka"

// name prefixes nack reasons and logs.
const name = "kafka"

// NewFactory returns the factory of exporter:kafka.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"produces OTLP to Kafka topics, bytes as received (or OTLP/JSON); acks once the broker acknowledged every record of a message, nacks (permanent or transient) otherwise",
		Load, func(nc engine.NodeContext, cfg Config) (engine.Processor, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	// A message's records hold its payload's leases until the last one
	// is answered (delivery).
	f.ReleasesPayloads = true
	return f
}

// Exporter is the exporter: the shared in-flight driver (max_in_flight,
// timeout, drain, forced shutdown) over this package's Kafka transport. It
// implements engine.Processor, engine.Gate and engine.Drainer through the
// driver.
type Exporter struct {
	*exportdriver.Exporter
	kafka     *Metrics
	transport *transport
}

// KafkaMetrics returns the exporter's Kafka metrics; Metrics returns the
// driver's.
func (e *Exporter) KafkaMetrics() *Metrics { return e.kafka }

// New builds the exporter from a validated config. TLS files are read
// here; the Kafka client is made at the first export and closed by the
// driver after the last one.
func New(nc engine.NodeContext, cfg Config) (*Exporter, error) {
	topics := [3]string{pdata.Logs: cfg.Logs.Topic, pdata.Metrics: cfg.Metrics.Topic, pdata.Traces: cfg.Traces.Topic}
	m := NewMetrics(nc.Metrics, nc.Labels, topics)
	t, err := newTransport(cfg, m)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
	}
	d := exportdriver.NewExporter(nc, name, prefix, cfg.ExportTimeout(), cfg.MaxInFlight, t)
	return &Exporter{Exporter: d, kafka: m, transport: t}, nil
}

// route is how one signal's payloads become records.
type route struct {
	topic   string
	headers []kgo.RecordHeader // shared by every record: franz-go only reads them
	format  string             // for encode failures: "OTLP" or "OTLP/JSON"
	plan    planner
}

// transport is the exportdriver.Transport of exporter:kafka: one franz-go
// client for the node, shared by the exports in flight.
type transport struct {
	opts   []kgo.Opt
	routes [3]route // by pdata.Signal
	m      *Metrics
	conns  *connWatch
	burst  *burst // nil when the client lingers (linger_ms) instead

	mu     sync.Mutex
	cl     *kgo.Client // made at the first export
	closed bool
}

var _ exportdriver.Gatherer = (*transport)(nil)

// Begin implements exportdriver.Gatherer.
func (t *transport) Begin() { t.burst.begin() }

// Idle implements exportdriver.Gatherer.
func (t *transport) Idle() { t.burst.idleNow() }

// formatValues are the message_format_header values: the reference's
// "otlp" for protobuf, so its Kafka receiver reads the records.
var formatValues = map[string]string{EncodingProto: "otlp", EncodingJSON: "otlp_json"}

func newTransport(cfg Config, m *Metrics) (*transport, error) {
	opts, err := clientOpts(cfg)
	if err != nil {
		return nil, err
	}
	t := &transport{m: m, conns: &connWatch{failing: map[string]error{}}}
	t.opts = append(opts, kgo.WithHooks(t.conns))
	if cfg.LingerMS == 0 {
		// Without a linger the records of a burst of messages travel
		// together: the client sends when the burst is over (burst.go).
		t.burst = newBurst()
		t.opts = append(t.opts, kgo.ManualFlushing())
	}
	blocks := [3]*SignalConfig{pdata.Logs: &cfg.Logs, pdata.Metrics: &cfg.Metrics, pdata.Traces: &cfg.Traces}
	for _, s := range pdata.Signals() {
		sc := blocks[s]
		h := kgo.RecordHeader{Key: cfg.MessageFormatHeader, Value: []byte(formatValues[sc.Encoding])}
		rt := route{
			topic:   sc.Topic,
			headers: []kgo.RecordHeader{h},
			format:  "OTLP",
			plan: planner{
				kind:       wireKind(s),
				mode:       sc.PartitionKey.mode(),
				json:       sc.Encoding == EncodingJSON,
				maxMessage: int(cfg.MaxMessageBytes),
				fixed:      recordOverhead + 10 + len(h.Key) + len(h.Value),
			},
		}
		if rt.plan.json {
			rt.format = "OTLP/JSON"
		}
		switch rt.plan.mode {
		case keyResource:
			rt.plan.attrs = sc.PartitionKey.names
		case keyTraceID:
			rt.plan.traceField = fieldLogTraceID
			if s == pdata.Traces {
				rt.plan.traceField = fieldSpanTraceID
			}
		}
		t.routes[s] = rt
	}
	return t, nil
}

// wireKind maps a signal to otlpwire's request kind.
func wireKind(s pdata.Signal) otlpwire.Kind {
	switch s {
	case pdata.Metrics:
		return otlpwire.Metrics
	case pdata.Traces:
		return otlpwire.Traces
	}
	return otlpwire.Logs
}

// clientOpts translates the config into franz-go options.
func clientOpts(cfg Config) ([]kgo.Opt, error) {
	timeout := cfg.ExportTimeout()
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DisableClientMetrics(), // no KIP-714 pushes, and no 1s wait for the last one at Close
		kgo.ProducerBatchMaxBytes(int32(cfg.MaxMessageBytes)),
		kgo.BrokerMaxWriteBytes(max(100<<20, int32(cfg.MaxMessageBytes)+1<<20)),
		kgo.ProducerLinger(time.Duration(cfg.LingerMS) * time.Millisecond),
		// A record never outlives the export that produced it by much: the
		// export's context fails it if it was not sent yet, and this bounds
		// the client's own retries of a record that was (franz-go's floor
		// is 1s).
		kgo.RecordDeliveryTimeout(max(time.Second, timeout+time.Duration(cfg.LingerMS)*time.Millisecond)),
		kgo.RecordPartitioner(partitioners[cfg.PartitioningStrategy]()),
		// After NOT_LEADER or a lost broker, franz-go re-reads metadata at
		// most once per min age (5s by default): a leader move would nack
		// every export for 5s. Several reads per timeout let an export
		// ride it out.
		kgo.MetadataMinAge(min(5*time.Second, max(100*time.Millisecond, timeout/4))),
	}
	switch cfg.Compression {
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	}
	switch cfg.RequiredAcks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	if !cfg.EnableIdempotence {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if cfg.AllowAutoCreateTopics {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if cfg.TLS != nil {
		tlsCfg, err := cfg.TLS.Load()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	if cfg.Auth != nil && cfg.Auth.SASL != nil {
		opts = append(opts, kgo.SASL(mechanism(cfg.Auth.SASL)))
	}
	return opts, nil
}

// mechanism returns the franz-go SASL mechanism of a validated block.
func mechanism(s *SASL) sasl.Mechanism {
	switch s.Mechanism {
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	}
	return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
}

// client returns the Kafka client, made on first use.
func (t *transport) client() (*kgo.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, kgo.ErrClientClosed
	}
	if t.cl == nil {
		cl, err := kgo.NewClient(t.opts...)
		if err != nil {
			return nil, err
		}
		t.cl = cl
		t.burst.start(cl)
	}
	return t.cl, nil
}

// Close implements exportdriver.Transport: it closes the client, which
// fails the records still buffered (their promises run before it returns)
// and stops its goroutines.
func (t *transport) Close() error {
	t.mu.Lock()
	cl := t.cl
	t.closed, t.cl = true, nil
	t.mu.Unlock()
	if cl != nil {
		if t.burst != nil {
			t.burst.stop()
		}
		cl.Close()
	}
	return nil
}

// Export implements exportdriver.Transport: it cuts the payload into
// records, produces them all and waits until the broker has answered every
// one, or until ctx ends.
func (t *transport) Export(ctx context.Context, p *pdata.Payload) exportdriver.Result {
	d, res := t.produce(ctx, p)
	t.burst.handed()
	if d == nil {
		return res
	}
	return d.wait(ctx, t.conns)
}

// produce cuts the payload into records and hands them to the client. It
// returns the delivery to wait for, or nil and the export's result when
// there is nothing to wait for.
func (t *transport) produce(ctx context.Context, p *pdata.Payload) (*delivery, exportdriver.Result) {
	s := p.Signal()
	rt := &t.routes[s]
	reqs, err := p.Requests()
	if err != nil {
		return nil, exportdriver.EncodeFailure("OTLP", s, err)
	}
	pieces, split, err := rt.plan.plan(reqs)
	if err != nil {
		var tl *tooLargeError
		if errors.As(err, &tl) {
			t.m.failed[s][classTooLarge].Inc()
			return nil, exportdriver.Result{Status: classTooLarge.String(), Err: err, Permanent: true}
		}
		return nil, exportdriver.EncodeFailure(rt.format, s, err)
	}
	if split {
		t.m.split[s].Inc()
	}
	if len(pieces) == 0 {
		return nil, exportdriver.Result{Status: "ok"} // an empty request: nothing to store
	}
	cl, err := t.client()
	if err != nil {
		return nil, exportdriver.Result{Status: classify(err).String(), Err: fmt.Errorf("kafka client: %w", err)}
	}
	d := newDelivery(s, len(pieces), t.m)
	// The records' values may be the payload's bytes, which franz-go reads
	// until each record is answered, maybe after this export gave up.
	d.leases = p.Leases()
	d.leases.Retain()
	recs := make([]kgo.Record, len(pieces))
	for i, pc := range pieces {
		r := &recs[i]
		r.Topic, r.Key, r.Value, r.Headers = rt.topic, pc.key, pc.value, rt.headers
		cl.Produce(ctx, r, d.promise)
	}
	return d, exportdriver.Result{}
}

// connWatch remembers the brokers whose last connection attempt failed
// (refused, TLS, SASL), so that an export that runs out of time can say
// why: franz-go keeps retrying connections and never fails a record for
// them.
type connWatch struct {
	mu      sync.Mutex
	failing map[string]error // by host:port, so a seed and the broker it is share one entry
}

var _ kgo.HookBrokerConnect = (*connWatch)(nil)

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (w *connWatch) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	if err == nil {
		delete(w.failing, addr)
		return
	}
	w.failing[addr] = fmt.Errorf("%s: %w", addr, err)
}

// err returns a failing broker's last connection error, or nil.
func (w *connWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, err := range w.failing {
		return err
	}
	return nil
}

// delivery follows the records of one export until the broker has
// answered every one. Promises run on franz-go's promise goroutine, wait
// on the export's; the mutex orders them.
type delivery struct {
	signal pdata.Signal
	total  int
	m      *Metrics
	done   chan struct{} // closed by the last answer

	mu        sync.Mutex
	pending   int
	accepted  int
	failed    int
	err       error    // the failure that decides the outcome
	class     errClass // its class
	abandoned bool     // the export ended first: later acknowledgements are duplicates
	// leases are the payload's (pdata.Lease), held until the last
	// record is answered.
	leases pdata.Leases
}

func newDelivery(s pdata.Signal, n int, m *Metrics) *delivery {
	return &delivery{signal: s, total: n, m: m, done: make(chan struct{}), pending: n}
}

// promise records one record's answer. A permanent failure decides the
// outcome over a transient one: sending the payload again cannot succeed.
func (d *delivery) promise(r *kgo.Record, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.accepted++
		d.m.produced[d.signal].Inc()
		d.m.bytes[d.signal].Add(uint64(len(r.Value)))
		if d.abandoned {
			d.m.dups[d.signal].Inc()
		}
	} else {
		c := classify(err)
		d.failed++
		d.m.failed[d.signal][c].Inc()
		if d.err == nil || c.permanent() && !d.class.permanent() {
			d.err, d.class = err, c
		}
	}
	d.pending--
	if d.pending == 0 {
		d.leases.Release()
		close(d.done)
	}
}

// wait returns the export's result once every record is answered, or when
// ctx ends (the driver's timeout, a forced shutdown) with records still
// unanswered. Records the broker acknowledged for a payload that is
// nacked are counted as duplicates: upstream will send them again.
func (d *delivery) wait(ctx context.Context, conns *connWatch) exportdriver.Result {
	select {
	case <-d.done:
	case <-ctx.Done():
		d.mu.Lock()
		if d.pending > 0 {
			d.abandoned = true
			d.m.dups[d.signal].Add(uint64(d.accepted))
			err := fmt.Errorf("%d of %d records unanswered (%d acknowledged, %d failed): %w",
				d.pending, d.total, d.accepted, d.failed, context.Cause(ctx))
			d.mu.Unlock()
			if cerr := conns.err(); cerr != nil {
				err = fmt.Errorf("%w; broker connection failing: %v", err, cerr)
			}
			status := classTimeout
			if errors.Is(ctx.Err(), context.Canceled) {
				status = classCanceled // a forced shutdown
			}
			return exportdriver.Result{Status: status.String(), Err: err}
		}
		d.mu.Unlock()
	}
	// Every promise has run: nothing writes the fields any more.
	if d.err == nil {
		return exportdriver.Result{Status: "ok"}
	}
	d.m.dups[d.signal].Add(uint64(d.accepted))
	err := d.err
	if d.class == classTimeout || d.class == classCanceled {
		if ctx.Err() == nil {
			// Not this export's deadline: franz-go keeps a partition's
			// records in order, so when it drops the records of an export
			// that ran out of time, it drops those buffered behind them too.
			err = fmt.Errorf("dropped with the records of an earlier export ahead of them on their partition: %w", err)
		}
		if cerr := conns.err(); cerr != nil {
			err = fmt.Errorf("%w; broker connection failing: %v", err, cerr)
		}
	}
	return exportdriver.Result{
		Status:    d.class.String(),
		Err:       fmt.Errorf("%d of %d records failed (%d acknowledged): %s: %w", d.failed, d.total, d.accepted, d.class, err),
		Permanent: d.class.permanent(),
	}
}
