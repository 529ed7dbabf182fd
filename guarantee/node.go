package guarantee

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ackflow/ackflow/config"
)

// Declarer returns the guarantee of one configured node of its type. It is
// the Guarantee field of engine.Factory: a node type declares what it does
// to the promise made to a client, so a new type brings its own line. It
// is called on a node whose config already passed the type's validation;
// an error makes the node "unknown" in the report, with the error's text.
type Declarer func(n *config.Node) (Node, error)

// From builds a Declarer from a type's config loader (the one its
// factory validates with) and a function of the loaded config, so that a
// declaration reads exactly the values the node runs with:
//
//	f.Guarantee = guarantee.From(decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
//		return guarantee.Batch(time.Duration(c.MaxBatchDuration))
//	})
//
// A package-level variable holding one is built when the program starts,
// for every node type linked into the binary, configured or not: write
// such a Declarer as a function calling Declare instead.
func From[C any](load func(*config.Node) (C, error), declare func(C, *config.Node) Node) Declarer {
	return func(n *config.Node) (Node, error) { return Declare(n, load, declare) }
}

// Declare is the guarantee of the node n from its type's config loader
// and a function of the loaded config: From applied at once, for a
// Declarer written as a function, which costs nothing until a node of
// the type is configured:
//
//	func declareGuarantee(n *config.Node) (guarantee.Node, error) {
//		return guarantee.Declare(n, decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
//			return guarantee.Batch(time.Duration(c.MaxBatchDuration))
//		})
//	}
func Declare[C any](n *config.Node, load func(*config.Node) (C, error), declare func(C, *config.Node) Node) (Node, error) {
	c, err := load(n)
	if err != nil {
		return Node{}, fmt.Errorf("%s %q: %w", n.Type, n.Name, err)
	}
	return declare(c, n), nil
}

// Effect is how a node's answer to its upstream relates to what happens to
// the data below it. The zero Effect is EffectUnknown: a node type that
// declares nothing.
type Effect uint8

// Effects.
const (
	// EffectUnknown: the node type declares no guarantee.
	EffectUnknown Effect = iota
	// EffectReceive: a receiver; its Intakes say when its clients are
	// answered.
	EffectReceive
	// EffectPass: the node answers upstream with the outcome from below
	// (possibly after holding, retrying or dropping on purpose: see Hold,
	// Retries and Drops).
	EffectPass
	// EffectPersist: the node answers upstream once the data is stored
	// locally (Durability says how), then delivers it itself.
	EffectPersist
	// EffectEarly: the node answers upstream before the data is
	// delivered: whatever happens below is not reported.
	EffectEarly
	// EffectFanout: the node sends copies to several ports; Fanout says
	// which outcomes its answer waits for.
	EffectFanout
	// EffectDeliver: an exporter that answers after its destination
	// confirmed (or refused) the data.
	EffectDeliver
	// EffectDiscard: an exporter that acknowledges without delivering
	// anywhere (a test or debugging sink).
	EffectDiscard
)

var effectNames = [...]string{"unknown", "receive", "pass", "persist", "early", "fanout", "deliver", "discard"}

// String returns the effect's name as used in the JSON report.
func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return fmt.Sprintf("effect(%d)", uint8(e))
}

// Sends says on which output ports a node sends.
type Sends uint8

// Output patterns.
const (
	// SendsDefault: one output, the node's default (default_output, or
	// its only connected port). The zero value: most processors.
	SendsDefault Sends = iota
	// SendsEach: each message goes to one of the node's declared outputs
	// (a router); the outcome comes from that one.
	SendsEach
)

// Answer says when a receiver answers its client.
type Answer uint8

// Answers.
const (
	// AnswerAfterOutcome: the client's answer waits for the pipeline's
	// ack or nack (wait_for_result: true, a Kafka commit after the
	// outcome).
	AnswerAfterOutcome Answer = iota
	// AnswerOnAdmission: the client is answered OK once its data is
	// admitted, before delivery (wait_for_result: false).
	AnswerOnAdmission
	// AnswerNone: there is no client to answer (a traffic generator that
	// does not subscribe to outcomes).
	AnswerNone
)

var answerNames = [...]string{"after_outcome", "on_admission", "none"}

// String returns the answer's name as used in the JSON report.
func (a Answer) String() string {
	if int(a) < len(answerNames) {
		return answerNames[a]
	}
	return fmt.Sprintf("answer(%d)", uint8(a))
}

// Intake is one way a receiver takes data in (a protocol), with its own
// answer and deadline. A receiver whose protocols all behave alike
// declares one Intake with an empty Name.
type Intake struct {
	// Name distinguishes intakes of one receiver ("grpc", "http"); empty
	// for a receiver with one behaviour.
	Name string
	// Answer says when the client is answered.
	Answer Answer
	// Timeout is how long the client's request may wait for its answer
	// (0: no deadline of the receiver's own). Any timeout or retry time of
	// a node before the answer that exceeds it is warned about.
	Timeout time.Duration
	// Key is the setting that makes the answer what it is, quoted in the
	// report ("wait_for_result: false"); with AnswerOnAdmission its part
	// before the colon is the key's path in the node's config block.
	Key string
	// Line says in a few words how the client is answered.
	Line string
}

// Timeout is a duration a node may keep its upstream waiting, compared
// with the receiver's deadline when the node comes before the client's
// answer.
type Timeout struct {
	// Key is the config key relative to the node's config block
	// ("max_elapsed_time", "destinations[0].timeout").
	Key string
	// Value is the duration; ignored when Unlimited.
	Value time.Duration
	// Unlimited says there is no bound at all (max_elapsed_time: 0).
	Unlimited bool
	// What completes "NODE <what> VALUE": "retries for up to", "may hold
	// data for".
	What string
}

// Fanout describes a fan-out: which copies its answer waits for.
type Fanout struct {
	// Await is none, primary or all (processor:fanout's await_ack).
	Await string
	// Sequential says the destinations are sent one chain at a time.
	Sequential bool
	// Destinations, in config order.
	Destinations []Destination
}

// Await policies of Fanout.Await.
const (
	AwaitNone    = "none"
	AwaitPrimary = "primary"
	AwaitAll     = "all"
)

// Destination is one output of a fan-out.
type Destination struct {
	// Port is the output port.
	Port string
	// Primary marks the destination whose outcome answers with await
	// primary; a declaration resolves the default (the first one).
	Primary bool
	// FallbackFor is the port this destination stands in for, or "".
	FallbackFor string
	// Timeout is the time allowed for its outcome (0: none).
	Timeout time.Duration
	// Index is the destination's position in the config list, for the
	// YAML paths of warnings.
	Index int
}

// Node is what one configured node does to the promise made to a client.
// Build it with the constructors (Receiver, PassThrough, Batch, Retry,
// Durable, FanOut, Filter, Route, Early, Deliver, Discard) and adjust the
// fields they leave open. The zero Node is an undeclared node.
type Node struct {
	// Effect is the node's relation between its answer and delivery.
	Effect Effect
	// Line is one line shown next to the node in the report and the
	// graph: what it does to the promise, with the values that matter.
	Line string
	// Key is the setting responsible for an EffectEarly answer, quoted in
	// path summaries ("await_ack: none").
	Key string
	// Sends says on which output ports the node sends (processors; a
	// fan-out's ports are its Destinations).
	Sends Sends
	// Intakes are a receiver's ways in (EffectReceive).
	Intakes []Intake
	// Durability is the storage promise of EffectPersist ("fsync",
	// "write").
	Durability string
	// Hold is how long the node may hold data before sending it on (a
	// batch's max_batch_duration).
	Hold time.Duration
	// Retries says the node resends data that failed transiently.
	Retries bool
	// Timeouts are the durations compared with the receiver's deadline.
	Timeouts []Timeout
	// Drops lists the reasons the node drops items on purpose and acks
	// them ("filtered").
	Drops []string
	// Losses lists the ways data the node already acknowledged may be
	// lost later (a durable buffer's drop_oldest or max_age).
	Losses []string
	// Fanout describes an EffectFanout node.
	Fanout *Fanout
	// Destination names where an exporter delivers (an endpoint), or "".
	Destination string
	// NeverFails says the node never nacks (a sink that acks everything):
	// a fallback for a destination that leads only to such nodes never
	// fires.
	NeverFails bool
}

// Receiver declares a receiver with the given intakes. Identical intakes
// are folded into one, and a lone intake loses its name, so that a report
// shows per-protocol lines only where the protocols differ.
func Receiver(intakes ...Intake) Node {
	if len(intakes) == 1 {
		intakes = []Intake{intakes[0]}
		intakes[0].Name = ""
	}
	if len(intakes) > 1 {
		same := true
		for _, in := range intakes[1:] {
			a, b := in, intakes[0]
			a.Name, b.Name = "", ""
			same = same && a == b
		}
		if same {
			one := intakes[0]
			one.Name = ""
			intakes = []Intake{one}
		}
	}
	var lines []string
	for _, in := range intakes {
		l := in.Line
		if in.Name != "" {
			l = in.Name + ": " + l
		}
		lines = append(lines, l)
	}
	return Node{Effect: EffectReceive, Intakes: intakes, Line: strings.Join(lines, "; ")}
}

// ClientIntake is the intake of a receiver that answers a client:
// after the outcome when wait is true, else on admission (the key names
// the setting, e.g. "wait_for_result"), with the client's deadline.
func ClientIntake(name string, wait bool, key string, timeout time.Duration) Intake {
	in := Intake{Name: name, Timeout: timeout}
	if wait {
		in.Answer = AnswerAfterOutcome
		in.Line = "answers the client after the pipeline's outcome"
		if timeout > 0 {
			in.Line += ", within " + FormatDuration(timeout)
		}
	} else {
		in.Answer = AnswerOnAdmission
		in.Key = key + ": false"
		in.Line = "answers OK on admission, before delivery (" + in.Key + ")"
	}
	return in
}

// PassThrough declares a processor that forwards on its default output
// and answers with the outcome from below; line says what else it does.
func PassThrough(line string) Node {
	if line == "" {
		line = "passes the outcome through"
	}
	return Node{Effect: EffectPass, Line: line}
}

// Batch declares a batch that holds data up to hold before sending it
// (0: it only splits) and answers each input once every batch holding its
// data is answered.
func Batch(hold time.Duration) Node {
	n := Node{Effect: EffectPass, Hold: hold}
	if hold > 0 {
		n.Line = "holds data up to " + FormatDuration(hold) + ", acks an input when every batch holding it is acked"
		n.Timeouts = []Timeout{{Key: "max_batch_duration", Value: hold, What: "may hold data for"}}
	} else {
		n.Line = "splits without holding, acks an input when every part of it is acked"
	}
	return n
}

// Retry declares a node that resends transient failures for up to
// maxElapsed (0: no time limit) and at most maxRetries times (0: no
// limit), passing acks and permanent nacks through.
func Retry(maxElapsed time.Duration, maxRetries int) Node {
	var limits []string
	if maxElapsed > 0 {
		limits = append(limits, "for up to "+FormatDuration(maxElapsed))
	} else {
		limits = append(limits, "without a time limit")
	}
	if maxRetries > 0 {
		limits = append(limits, fmt.Sprintf("at most %d times", maxRetries))
	}
	return Node{
		Effect:   EffectPass,
		Retries:  true,
		Line:     "retries transient failures " + strings.Join(limits, ", ") + ", then nacks; passes acks and permanent nacks",
		Timeouts: []Timeout{{Key: "max_elapsed_time", Value: maxElapsed, Unlimited: maxElapsed <= 0, What: "retries for up to"}},
	}
}

// Durable declares a node that acknowledges once the data is stored
// locally with the given durability ("fsync": on disk; "write": handed to
// the operating system), then delivers it itself at least once. losses
// lists the ways stored data may still be lost.
func Durable(durability string, losses ...string) Node {
	what := "on disk (fsync)"
	if durability != "fsync" {
		what = "written to the OS (" + durability + ", not fsynced)"
	}
	line := "acks once the data is " + what + ", then delivers it from disk at least once, retrying transient failures without limit"
	if len(losses) > 0 {
		line += "; may lose stored data: " + strings.Join(losses, ", ")
	}
	return Node{Effect: EffectPersist, Durability: durability, Retries: true, Line: line, Losses: losses}
}

// FanOut declares a fan-out. Destinations without an explicit primary get
// the first one as their primary, as processor:fanout does.
func FanOut(f Fanout) Node {
	primary := -1
	for i, d := range f.Destinations {
		if d.Primary {
			primary = i
			break
		}
	}
	if primary < 0 && len(f.Destinations) > 0 {
		f.Destinations[0].Primary = true
	}
	mode := "parallel"
	if f.Sequential {
		mode = "sequential"
	}
	parts := []string{"await_ack: " + f.Await + " (" + mode + ")"}
	for _, d := range f.Destinations {
		var p []string
		if d.Primary && f.Await == AwaitPrimary {
			p = append(p, "primary")
		}
		if d.FallbackFor != "" {
			p = append(p, "fallback for "+d.FallbackFor)
		}
		if d.Timeout > 0 {
			p = append(p, "timeout "+FormatDuration(d.Timeout))
		}
		if len(p) > 0 {
			parts = append(parts, d.Port+": "+strings.Join(p, ", "))
		}
	}
	n := Node{Effect: EffectFanout, Fanout: &f, Line: strings.Join(parts, "; ")}
	if f.Await == AwaitNone {
		n.Key = "await_ack: none"
	}
	return n
}

// Filter declares a processor that drops some items on purpose (reason,
// e.g. "filtered" or "sampled out") and acks them, and answers with the
// outcome from below for the rest.
func Filter(reason, line string) Node {
	if line == "" {
		line = "drops items on purpose (" + reason + ") and acks them; passes the outcome of the rest"
	}
	return Node{Effect: EffectPass, Drops: []string{reason}, Line: line}
}

// Route declares a processor that sends each message to one of its
// outputs and answers with that output's outcome.
func Route(line string) Node {
	if line == "" {
		line = "sends each message to one output, passes its outcome through"
	}
	return Node{Effect: EffectPass, Sends: SendsEach, Line: line}
}

// Early declares a node that answers upstream before the data is
// delivered; key names the setting responsible, quoted in summaries.
func Early(line, key string) Node { return Node{Effect: EffectEarly, Line: line, Key: key} }

// Deliver declares an exporter that acks after its destination (dest, an
// endpoint or a description) confirmed the data and nacks when it
// refused it or timeout passed (0: no timeout of its own).
func Deliver(dest string, timeout time.Duration) Node {
	n := Node{Effect: EffectDeliver, Destination: dest}
	n.Line = "acks after the destination confirmed"
	if dest != "" {
		n.Line = "acks after " + dest + " confirmed"
	}
	if timeout > 0 {
		n.Line += ", nacks on refusal or after " + FormatDuration(timeout)
		n.Timeouts = []Timeout{{Key: "timeout", Value: timeout, What: "waits for an export for up to"}}
	} else {
		n.Line += ", nacks on refusal"
	}
	return n
}

// Discard declares an exporter that acks everything without delivering
// it anywhere; line says what it does instead.
func Discard(line string) Node {
	if line == "" {
		line = "acks everything and delivers nothing"
	}
	return Node{Effect: EffectDiscard, Line: line, NeverFails: true}
}

// undeclared is the generic, honest line of a node type without a
// declaration (or whose declaration failed).
func undeclared(typeName string, err error) Node {
	line := "unknown: node type " + typeName + " declares no guarantee"
	if err != nil {
		line = "unknown: " + err.Error()
	}
	return Node{Effect: EffectUnknown, Sends: SendsEach, Line: line}
}

// FormatDuration writes d as Go does, without trailing zero units: 5m, not
// 5m0s; 1h30m, not 1h30m0s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Endpoint returns a destination URL fit for a report, which the admin API
// serves: scheme, host and path only, without user information, query or
// fragment, which may hold credentials; "" when raw is not a URL with a
// host.
func Endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}
