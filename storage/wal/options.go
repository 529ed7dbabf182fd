package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ackflow/ackflow/clock"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxSegmentSize         = 32 << 20
	DefaultMaxSegmentOpenDuration = time.Second
	// MaxMaxSegmentSize is the largest MaxSegmentSize Open accepts.
	MaxMaxSegmentSize = 2 << 30
)

// Seq is a record's sequence number. The first record of a new log is 1;
// numbers increase by one per Append and never go back, across Close and
// Open and even after every segment was deleted. 0 is never a record.
type Seq uint64

// Durability says when a record counts as committed (see Log.Commit and
// the package doc, "Durability").
type Durability uint8

const (
	// Fsync commits a record once it is on stable storage: after an
	// fsync of its segment (and of the directory entry of a new segment).
	// Concurrent commits share one fsync. This is the zero value.
	Fsync Durability = iota
	// Write commits a record once write(2) returned: it survives a crash
	// of the process, not of the machine.
	Write
)

// String returns "fsync" or "write".
func (d Durability) String() string {
	switch d {
	case Fsync:
		return "fsync"
	case Write:
		return "write"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

// ParseDurability parses "fsync" or "write", the configuration spelling.
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "fsync":
		return Fsync, nil
	case "write":
		return Write, nil
	}
	return 0, fmt.Errorf("wal: durability %q: want \"fsync\" or \"write\"", s)
}

// Options configures Open. The zero value of every field but Dir selects
// its default.
type Options struct {
	// Dir holds the log. It is created (with parents) if missing, and must
	// not be shared with anything else: Open locks it.
	Dir string
	// MaxSegmentSize seals a segment before a record would take it past
	// this many bytes (a record larger than that gets a segment of its
	// own). Default DefaultMaxSegmentSize; at most MaxMaxSegmentSize.
	MaxSegmentSize int64
	// MaxSegmentOpenDuration seals a segment this long after its first
	// record was appended, on the next Append or Maintain: the log owns no
	// timer. Default DefaultMaxSegmentOpenDuration.
	MaxSegmentOpenDuration time.Duration
	// Durability says when a record is committed. Default Fsync.
	Durability Durability
	// Clock is the only source of time. Nil means clock.Real().
	Clock clock.Clock
	// Logger receives recovery warnings (truncations, quarantines, a
	// corrupt ledger). Nil discards them.
	Logger *slog.Logger

	hooks *hooks // tests only: fault injection
}

// hooks lets the package's tests inject faults into the I/O path.
type hooks struct {
	// beforeSync runs on the syncer goroutine before each group fsync; an
	// error stands for a failed fsync.
	beforeSync func() error
	// writeAt replaces (*os.File).WriteAt for record frames.
	writeAt func(f *os.File, b []byte, off int64) (int, error)
}

// withDefaults validates o and returns it with defaults filled in. It does
// not touch the file system.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("wal: Options.Dir is empty; set it to the directory that should hold the log"))
	}
	switch {
	case o.MaxSegmentSize == 0:
		o.MaxSegmentSize = DefaultMaxSegmentSize
	case o.MaxSegmentSize < 0 || o.MaxSegmentSize > MaxMaxSegmentSize:
		errs = append(errs, fmt.Errorf("wal: MaxSegmentSize %d: must be between 1 and %d bytes (0 selects %d)", o.MaxSegmentSize, int64(MaxMaxSegmentSize), DefaultMaxSegmentSize))
	}
	switch {
	case o.MaxSegmentOpenDuration == 0:
		o.MaxSegmentOpenDuration = DefaultMaxSegmentOpenDuration
	case o.MaxSegmentOpenDuration < 0:
		errs = append(errs, fmt.Errorf("wal: MaxSegmentOpenDuration %v: must be positive (0 selects %v)", o.MaxSegmentOpenDuration, DefaultMaxSegmentOpenDuration))
	}
	if o.Durability > Write {
		errs = append(errs, fmt.Errorf("wal: unknown Durability %d: use Fsync or Write", o.Durability))
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.hooks == nil {
		o.hooks = &hooks{}
	}
	return o, errors.Join(errs...)
}
