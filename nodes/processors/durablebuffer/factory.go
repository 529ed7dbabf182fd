package durablebuffer

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/storage/wal"
	"github.com/ackflow/ackflow/telemetry"
)

// Type is the node type name.
const Type = "processor:durable_buffer"

// NewFactory returns the factory of processor:durable_buffer.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"persists every input to a local log before acking it, then delivers it downstream at least once",
		load, func(nc engine.NodeContext, cfg Config) (engine.Processor, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	// An input's bytes are copied into the log when it arrives; what goes
	// downstream is read back from the log.
	f.ReleasesPayloads = true
	return f
}

func load(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}

// New opens (and recovers) the copy's log under cfg.Path and returns the
// processor. It fails with a message naming the directory and the fix when
// the log cannot be opened: not a directory, not writable, or locked by
// another process.
func New(nc engine.NodeContext, cfg Config) (*Buffer, error) {
	dur, err := wal.ParseDurability(cfg.Durability)
	if err != nil {
		return nil, err
	}
	copies := max(nc.Copies, 1)
	dir := filepath.Join(cfg.Path, "copy-"+strconv.Itoa(nc.Copy))
	capBytes := int64(cfg.RetentionSizeCap) / int64(copies)
	start := nc.Clock.Now()
	log, err := wal.Open(wal.Options{
		Dir:                    dir,
		MaxSegmentSize:         segmentSize(capBytes),
		MaxSegmentOpenDuration: time.Duration(cfg.MaxSegmentOpenDuration),
		Durability:             dur,
		Clock:                  nc.Clock,
		Logger:                 nc.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("durable_buffer %q: %w", nc.Node.Name, err)
	}
	labels := telemetry.With(nc.Labels, telemetry.Label{Name: "copy", Value: strconv.Itoa(nc.Copy)})
	b := &Buffer{
		cfg:      cfg,
		dir:      dir,
		log:      log,
		reader:   log.NewReader(),
		win:      newWindow(cfg.MaxInFlight),
		rng:      newRand(nc, start),
		m:        newMetrics(nc.Metrics, labels),
		logger:   nc.Logger,
		capBytes: capBytes,
	}
	if err := b.countBacklog(); err != nil {
		log.Close()
		return nil, fmt.Errorf("durable_buffer %q: %s: read the backlog: %w", nc.Node.Name, dir, err)
	}
	st := log.Stats()
	b.m.bytesCap.Set(b.capBytes)
	b.m.quarantined.Set(int64(st.QuarantinedSegments))
	b.m.recovery.Set(nc.Clock.Now().Sub(start).Seconds())
	b.gauges(nc.Clock.Now())
	if st.QuarantinedSegments > 0 {
		nc.Logger.Error("durable_buffer: corrupt segments moved to quarantine; the buffer starts without them",
			"path", dir, "segments", st.QuarantinedSegments)
	}
	return b, nil
}

// countBacklog reads what a previous run left undelivered, to start the
// queued gauges from it.
func (b *Buffer) countBacklog() error {
	r := b.log.NewReader()
	for {
		_, rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Close()
		}
		if errors.Is(err, wal.ErrCorrupt) {
			continue // counted and given up when the delivery reader meets it
		}
		if err != nil {
			r.Close()
			return err
		}
		if h, err := readHeader(rec); err == nil {
			b.queued[h.signal] += int64(h.items)
			b.m.queued[h.signal].Add(int64(h.items))
		}
	}
}

// newRand returns the jitter source, seeded from the node's identity and
// the start time: reproducible on a fake clock, different across a fleet.
func newRand(nc engine.NodeContext, start time.Time) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", nc.Pipeline, nc.Node.Name, nc.Copy)
	return rand.New(rand.NewPCG(h.Sum64(), uint64(start.UnixNano())))
}
