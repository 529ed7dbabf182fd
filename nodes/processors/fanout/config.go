package fanout

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/pdata"
)

// Mode says how the copies of one input are dispatched.
type Mode string

// Modes.
const (
	// ModeParallel sends a copy to every destination that is not a
	// fallback at once.
	ModeParallel Mode = "parallel"
	// ModeSequential sends one destination (chain) at a time, in config
	// order, the next only after the previous one resolved.
	ModeSequential Mode = "sequential"
)

// AwaitAck says which downstream outcomes decide the upstream outcome.
type AwaitAck string

// Await policies.
const (
	// AwaitNone acks upstream right after dispatch and tracks nothing.
	AwaitNone AwaitAck = "none"
	// AwaitPrimary answers upstream with the primary chain's outcome.
	AwaitPrimary AwaitAck = "primary"
	// AwaitAll acks when every chain succeeded and nacks at the first
	// chain that failed for good.
	AwaitAll AwaitAck = "all"
)

// Defaults of the configuration keys, as in the reference engine.
const (
	DefaultMode                 = ModeParallel
	DefaultAwaitAck             = AwaitPrimary
	DefaultMaxInflight          = 10000
	DefaultMaxTrailing          = 10000
	DefaultTimeoutCheckInterval = 200 * time.Millisecond
	// MaxDestinations is the most destinations one node accepts. The
	// reference keeps a 64-bit set per request; ackflow keeps the limit so
	// that configurations stay portable between the two engines.
	MaxDestinations = 64
)

// Config is the `config` block of a processor:fanout node.
type Config struct {
	// Mode is parallel (default) or sequential.
	Mode Mode `yaml:"mode"`
	// AwaitAck is none, primary (default) or all.
	AwaitAck AwaitAck `yaml:"await_ack"`
	// MaxInflight bounds the inputs whose sender still waits for its
	// answer, and the copies waiting for room on full outputs (default
	// 10000, at least 1). At the limit the node stops taking pdata; it
	// never nacks for it. Ignored with await_ack: none, which tracks
	// nothing (0 is accepted there, as in the reference engine).
	MaxInflight int `yaml:"max_inflight"`
	// MaxTrailing bounds the inputs already answered upstream whose
	// remaining copies are still tracked (default 10000; 0 stops tracking
	// copies once the input is answered). Beyond it the oldest such input
	// is abandoned: its copies are no longer awaited. It never pauses
	// intake. Used by the full path only (see trail.go).
	MaxTrailing int `yaml:"max_trailing"`
	// TimeoutCheckInterval is accepted for compatibility with the
	// reference engine, which polls for timeouts at this period. ackflow's
	// timeouts are exact (a wakeup at the earliest deadline), so it is
	// ignored.
	TimeoutCheckInterval config.Duration `yaml:"timeout_check_interval"`
	// Destinations lists where copies go, at most MaxDestinations.
	Destinations []Destination `yaml:"destinations"`
}

// Destination is one entry of `destinations`.
type Destination struct {
	// Port is the output port the copies go to; it must be declared in
	// the node's outputs.
	Port string `yaml:"port"`
	// Primary marks the destination whose outcome answers upstream with
	// await_ack: primary. When no destination is marked, the first one is
	// the primary.
	Primary bool `yaml:"primary"`
	// Timeout is how long a copy may wait for its outcome; past it the
	// destination has failed (nil: no limit).
	Timeout *config.Duration `yaml:"timeout"`
	// FallbackFor names the port of the destination this one stands in
	// for: it is sent only when that destination failed.
	FallbackFor string `yaml:"fallback_for"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		Mode:                 DefaultMode,
		AwaitAck:             DefaultAwaitAck,
		MaxInflight:          DefaultMaxInflight,
		MaxTrailing:          DefaultMaxTrailing,
		TimeoutCheckInterval: config.Duration(DefaultTimeoutCheckInterval),
	}
}

// decodeConfig decodes and validates the config block of n.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return c.Validate(p, n.Ports())
	})
}

// primaryIndex returns the index of the primary destination: the first
// one marked primary, else the first one (-1 with no destinations).
func (c *Config) primaryIndex() int {
	for i, d := range c.Destinations {
		if d.Primary {
			return i
		}
	}
	if len(c.Destinations) > 0 {
		return 0
	}
	return -1
}

// maxInflightHint says how to size max_inflight.
const maxInflightHint = "use a bound such as 10000 (the default), about the input rate × the longest destination timeout"

// Validate reports every problem of the configuration, each a
// *config.Error under p (the node's `config` path) that names the
// destination's port and the fix, joined with errors.Join. outputs are the
// node's declared output ports.
func (c *Config) Validate(p config.Path, outputs []string) error {
	var errs []error
	bad := func(at config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(at, hint, format, args...))
	}
	switch c.Mode {
	case ModeParallel, ModeSequential:
	default:
		bad(p.Key("mode"), "use parallel or sequential", "unknown mode %q", c.Mode)
	}
	switch c.AwaitAck {
	case AwaitNone, AwaitPrimary, AwaitAll:
	default:
		bad(p.Key("await_ack"), "use none, primary or all", "unknown await_ack %q", c.AwaitAck)
	}
	switch {
	case c.MaxInflight < 0:
		bad(p.Key("max_inflight"), maxInflightHint, "must be at least 1, got %d", c.MaxInflight)
	case c.MaxInflight == 0 && c.AwaitAck != AwaitNone:
		// The reference engine reads 0 as unlimited. Here every tracked
		// input and every copy waiting for a full output is memory, so a
		// tracking path needs a bound.
		bad(p.Key("max_inflight"), maxInflightHint+"; 0 is accepted only with await_ack: none, which tracks nothing",
			"0 (no limit) is not allowed with await_ack: %s: tracked inputs and copies waiting for a full output would grow without bound",
			c.AwaitAck)
	}
	if c.MaxTrailing < 0 {
		bad(p.Key("max_trailing"), "use a bound such as 10000 (the default), or 0 to stop tracking copies once the input is answered",
			"must not be negative, got %d", c.MaxTrailing)
	}
	if time.Duration(c.TimeoutCheckInterval) < 0 {
		bad(p.Key("timeout_check_interval"), "remove it: timeouts are exact and this key is ignored",
			"must not be negative, got %s", c.TimeoutCheckInterval)
	}

	dp := p.Key("destinations")
	switch n := len(c.Destinations); {
	case n == 0:
		example := config.DefaultPort
		if len(outputs) > 0 {
			example = outputs[0]
		}
		bad(dp, fmt.Sprintf("list one entry per output port, e.g. destinations: [{port: %s}]", example),
			"no destinations: at least one is required")
		return errors.Join(errs...)
	case n > MaxDestinations:
		bad(dp, "split the fan-out over several fanout nodes",
			"%d destinations, at most %d are supported", n, MaxDestinations)
		return errors.Join(errs...)
	}

	byPort := make(map[string]int, len(c.Destinations)) // first destination of each port
	primary := c.primaryIndex()
	explicitPrimary := c.Destinations[primary].Primary
	fallbackOf := make(map[string]int) // port -> first destination that is its fallback
	for i, d := range c.Destinations {
		at := dp.Index(i)
		switch {
		case d.Port == "":
			bad(at.Key("port"), fmt.Sprintf("set port to one of the node's outputs: %s", strings.Join(outputs, ", ")),
				"destination has no port")
		case !slices.Contains(outputs, d.Port):
			bad(at.Key("port"), fmt.Sprintf("add %q to the node's outputs, or use one of: %s", d.Port, strings.Join(outputs, ", ")),
				"port %q is not an output of this node", d.Port)
		}
		if j, dup := byPort[d.Port]; dup && d.Port != "" {
			bad(at.Key("port"), "list each output port once: remove this entry or use another port",
				"port %q is already used by destinations[%d]", d.Port, j)
		} else if d.Port != "" {
			byPort[d.Port] = i
		}
		if d.Primary && i != primary {
			bad(at.Key("primary"), "mark exactly one destination primary: true",
				"destination %q is marked primary, but %q (destinations[%d]) already is",
				d.Port, c.Destinations[primary].Port, primary)
		}
		if d.Timeout != nil {
			if t := time.Duration(*d.Timeout); t <= 0 {
				bad(at.Key("timeout"), "use a positive duration such as 5s, or remove timeout to wait without limit",
					"timeout of destination %q must be greater than 0, got %s", d.Port, t)
			}
			if c.AwaitAck == AwaitNone {
				bad(at.Key("timeout"), "remove the timeout, or set await_ack to primary or all",
					"destination %q has a timeout, but await_ack: none never waits for outcomes", d.Port)
			}
		}
		if d.FallbackFor == "" {
			continue
		}
		if c.AwaitAck == AwaitNone {
			bad(at.Key("fallback_for"), "remove fallback_for, or set await_ack to primary or all",
				"destination %q is a fallback for %q, but await_ack: none never sees failures, so it would never be sent",
				d.Port, d.FallbackFor)
		}
		if i == primary {
			if explicitPrimary {
				bad(at.Key("fallback_for"), "remove fallback_for from the primary, or mark another destination primary: true",
					"destination %q is the primary and cannot also be a fallback (fallback_for: %q)", d.Port, d.FallbackFor)
			} else {
				bad(at.Key("fallback_for"), "mark the intended primary with primary: true, or list it first",
					"destination %q is the primary (the first destination, as none is marked primary: true) and cannot also be a fallback",
					d.Port)
			}
		}
		if j, dup := fallbackOf[d.FallbackFor]; dup {
			bad(at.Key("fallback_for"),
				fmt.Sprintf("chain them instead: set fallback_for of %q to %q", d.Port, c.Destinations[j].Port),
				"destinations %q and %q are both fallbacks for %q; a destination has at most one fallback",
				c.Destinations[j].Port, d.Port, d.FallbackFor)
		} else {
			fallbackOf[d.FallbackFor] = i
		}
	}

	// Links that name no destination are reported here; the cycle check
	// below only follows links that resolve.
	for i, d := range c.Destinations {
		if d.FallbackFor == "" {
			continue
		}
		if _, ok := byPort[d.FallbackFor]; !ok {
			hint := "set fallback_for to the port of another destination in this list"
			if slices.Contains(outputs, d.FallbackFor) {
				hint = fmt.Sprintf("add a destination for port %q, or point fallback_for at another destination", d.FallbackFor)
			}
			bad(dp.Index(i).Key("fallback_for"), hint,
				"fallback_for %q names no destination", d.FallbackFor)
		}
	}
	errs = append(errs, c.checkCycles(dp, byPort)...)
	return errors.Join(errs...)
}

// checkCycles reports each fallback cycle once, at the fallback_for of its
// first destination in config order.
func (c *Config) checkCycles(dp config.Path, byPort map[string]int) []error {
	var errs []error
	next := func(i int) int {
		if c.Destinations[i].FallbackFor == "" {
			return -1
		}
		if j, ok := byPort[c.Destinations[i].FallbackFor]; ok {
			return j
		}
		return -1
	}
	reported := make(map[int]bool)
	for start := range c.Destinations {
		// Walk at most len steps: a walk that long has revisited a node.
		seen := map[int]int{start: 0}
		path := []int{start}
		for i := next(start); i >= 0; i = next(i) {
			if at, loop := seen[i]; loop {
				cycle := path[at:]
				if at != 0 || reported[slices.Min(cycle)] {
					break // a cycle reached from outside, or reported already
				}
				first := slices.Min(cycle)
				reported[first] = true
				if len(cycle) == 1 {
					errs = append(errs, config.Errorf(dp.Index(first).Key("fallback_for"),
						"set fallback_for to another destination's port, or remove it",
						"destination %q is its own fallback", c.Destinations[first].Port))
					break
				}
				names := make([]string, 0, len(cycle)+1)
				for _, k := range rotate(cycle, first) {
					names = append(names, c.Destinations[k].Port)
				}
				names = append(names, c.Destinations[first].Port)
				errs = append(errs, config.Errorf(dp.Index(first).Key("fallback_for"),
					"a chain must end at a destination without fallback_for: remove fallback_for from one of them",
					"fallback cycle: %s", strings.Join(names, " -> ")))
				break
			}
			seen[i] = len(path)
			path = append(path, i)
		}
	}
	return errs
}

// rotate returns cycle starting at element first.
func rotate(cycle []int, first int) []int {
	k := slices.Index(cycle, first)
	return append(slices.Clone(cycle[k:]), cycle[:k]...)
}

// stallsPrimary returns the destinations without a timeout that the
// primary waits for although their outcome does not decide the answer:
// with mode sequential and await_ack primary, the members of the chains
// listed before the primary's. One that stays silent stalls every input.
func (pl *plan) stallsPrimary() []int {
	if pl.mode != ModeSequential || pl.await != AwaitPrimary {
		return nil
	}
	var out []int
	for _, r := range pl.roots {
		if r == pl.primary {
			break
		}
		for d := r; d >= 0; d = pl.dests[d].fallback {
			if pl.dests[d].timeout == 0 {
				out = append(out, d)
			}
		}
	}
	return out
}

// path is the per-request machinery a configuration needs.
type path uint8

const (
	// pathFireAndForget (await_ack: none) keeps no state at all.
	pathFireAndForget path = iota
	// pathSlim (parallel, primary, no fallback, no timeout) keeps only
	// request -> original message.
	pathSlim
	// pathFull keeps per-destination state, deadlines, fallback chains
	// and the sequential cursor.
	pathFull
)

var pathNames = [...]string{"fire_and_forget", "slim_primary", "full"}

func (p path) String() string {
	if int(p) < len(pathNames) {
		return pathNames[p]
	}
	return fmt.Sprintf("path(%d)", uint8(p))
}

// plan is a validated configuration in the form the core uses: indexes
// instead of port names, chains resolved, reasons precomputed so the data
// path formats nothing.
type plan struct {
	mode        Mode
	await       AwaitAck
	path        path
	maxInflight int
	maxTrailing int
	primary     int   // index of the primary destination (a chain root)
	roots       []int // destinations that are not fallbacks, in config order
	dests       []destPlan
}

// destPlan is one destination, resolved.
type destPlan struct {
	port     string
	timeout  time.Duration // 0: none
	root     int           // first destination of this destination's chain
	fallback int           // destination standing in when this one fails, or -1
	// prefix starts every upstream nack reason decided by this
	// destination, so that the reason names it.
	prefix string
	// timedOut is the failure recorded when the timeout expires.
	timedOut pdata.Nack
}

// newPlan derives the plan from a configuration that passed Validate.
func newPlan(c Config) *plan {
	pl := &plan{
		mode:        c.Mode,
		await:       c.AwaitAck,
		maxInflight: c.MaxInflight,
		maxTrailing: c.MaxTrailing,
		primary:     c.primaryIndex(),
		dests:       make([]destPlan, len(c.Destinations)),
	}
	byPort := make(map[string]int, len(c.Destinations))
	for i, d := range c.Destinations {
		byPort[d.Port] = i
	}
	for i := range pl.dests {
		pl.dests[i].fallback = -1
	}
	for i, d := range c.Destinations {
		dp := &pl.dests[i]
		dp.port = d.Port
		if d.Timeout != nil {
			dp.timeout = time.Duration(*d.Timeout)
		}
		if d.FallbackFor == "" {
			pl.roots = append(pl.roots, i)
			dp.prefix = fmt.Sprintf("fanout: destination %q", d.Port)
		} else {
			pl.dests[byPort[d.FallbackFor]].fallback = i
			dp.prefix = fmt.Sprintf("fanout: destination %q (fallback for %q)", d.Port, d.FallbackFor)
		}
		dp.timedOut = pdata.Nack{
			Reason: fmt.Sprintf("%s: no outcome within %s", dp.prefix, dp.timeout),
			Cause:  pdata.CauseTimeout,
		}
	}
	for _, r := range pl.roots {
		for d := r; d >= 0; d = pl.dests[d].fallback {
			pl.dests[d].root = r
		}
	}
	hasTimeout := slices.ContainsFunc(pl.dests, func(d destPlan) bool { return d.timeout > 0 })
	switch {
	case pl.await == AwaitNone:
		pl.path = pathFireAndForget
	case pl.mode == ModeParallel && pl.await == AwaitPrimary && len(pl.roots) == len(pl.dests) && !hasTimeout:
		pl.path = pathSlim
	default:
		pl.path = pathFull
	}
	return pl
}
