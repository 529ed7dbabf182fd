package guarantee

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ackflow/ackflow/config"
)

// MaxPaths bounds the paths analysed per pipeline: a graph of many
// diamonds has exponentially many, and a report of thousands of lines
// helps nobody. Paths beyond it are counted in PathsOmitted.
const MaxPaths = 1000

// Analyze derives what doc promises its clients: per pipeline, every path
// from a receiver to an exporter, what the client's answer means on it,
// and the contradictions found. declarerOf returns the declaration of a
// node type (nil when the type declares none); with the engine's
// registry:
//
//	guarantee.Analyze(doc, func(t string) guarantee.Declarer {
//		f, _ := reg.Lookup(t)
//		return f.Guarantee
//	})
//
// doc should have passed validation; the analysis never loops on a cycle
// and never fails: what it cannot tell it reports as unknown.
func Analyze(doc *config.Document, declarerOf func(typeName string) Declarer) *Report {
	r := &Report{Version: ReportVersion, Pipelines: []PipelineReport{}}
	if doc == nil {
		return r
	}
	for _, grp := range doc.Groups {
		for _, pl := range grp.Pipelines {
			r.Pipelines = append(r.Pipelines, analyzePipeline(grp.Name, pl, declarerOf))
		}
	}
	return r
}

// analysis is the state of one pipeline's analysis.
type analysis struct {
	g        *graph
	rep      *PipelineReport
	warnSeen map[string]bool
	// canFail memoises canFail per node; absent: not computed yet.
	canFail map[string]bool
}

func analyzePipeline(group string, pl *config.Pipeline, declarerOf func(string) Declarer) PipelineReport {
	a := &analysis{
		g: newGraph(pl, declarerOf),
		rep: &PipelineReport{
			Name: group + "/" + pl.Name, Group: group, Pipeline: pl.Name,
			Nodes: []NodeReport{}, Edges: []Edge{}, Paths: []Path{}, Warnings: []Warning{},
		},
		warnSeen: map[string]bool{},
		canFail:  map[string]bool{},
	}
	for _, pn := range a.g.nodes {
		a.rep.Edges = append(a.rep.Edges, pn.edges()...)
	}
	a.nodeWarnings()
	a.enumerate()
	for _, pn := range a.g.nodes {
		nr := NodeReport{
			Name: pn.cfg.Name, Type: pn.cfg.Type, Kind: pn.cfg.Kind.String(),
			Declared: pn.declared, Effect: pn.decl.Effect.String(), Guarantee: pn.decl.Line,
		}
		for _, w := range a.rep.Warnings {
			if w.Node == pn.cfg.Name {
				nr.Warnings++
			}
		}
		a.rep.Nodes = append(a.rep.Nodes, nr)
	}
	return *a.rep
}

// edges returns pn's connections.
func (pn *pnode) edges() []Edge {
	var out []Edge
	for _, port := range pn.ports {
		dests := pn.out[port]
		for _, to := range dests {
			out = append(out, Edge{From: pn.cfg.Name, Port: port, To: to, Competing: len(dests) > 1, Awaited: pn.awaited(port)})
		}
	}
	return out
}

// warn records a warning once.
func (a *analysis) warn(w Warning) {
	key := w.Code + "\x00" + w.Node + "\x00" + w.Message
	if a.warnSeen[key] {
		return
	}
	a.warnSeen[key] = true
	a.rep.Warnings = append(a.rep.Warnings, w)
}

// configPath returns the YAML path of key (relative to n's config block;
// "" for the node itself).
func configPath(n *config.Node, key string) string {
	if key == "" {
		return n.Path.String()
	}
	return n.Path.Key("config").String() + "." + key
}

// step is one node on a path being enumerated.
type step struct {
	n         *pnode
	port      string   // output taken; "" on an exporter
	competing []string // the other destinations of the port that led here
}

// enumerate walks every path from every receiver intake, depth first, in
// document order.
func (a *analysis) enumerate() {
	for _, pn := range a.g.nodes {
		if pn.cfg.Kind != config.KindReceiver {
			continue
		}
		intakes := pn.decl.Intakes
		if len(intakes) == 0 {
			// An undeclared receiver: its paths are judged unknown.
			intakes = []Intake{{Answer: AnswerAfterOutcome}}
		}
		for _, in := range intakes {
			onPath := map[string]bool{}
			a.walk(in, []step{{n: pn}}, onPath)
		}
	}
}

// walk extends the path ending at steps' last node through every port it
// sends on; onPath holds the nodes on the path, so that a cycle stops the
// walk instead of looping.
func (a *analysis) walk(in Intake, steps []step, onPath map[string]bool) {
	last := &steps[len(steps)-1]
	onPath[last.n.cfg.Name] = true
	defer delete(onPath, last.n.cfg.Name)
	ports := last.n.sendPorts()
	if len(ports) == 0 {
		a.emit(in, steps)
		return
	}
	for _, port := range ports {
		dests := last.n.out[port]
		steps[len(steps)-1].port = port
		if len(dests) == 0 {
			a.emit(in, steps)
			continue
		}
		for _, to := range dests {
			if onPath[to] {
				a.warn(Warning{
					Code: WarnCycle, Node: last.n.cfg.Name, Path: last.n.cfg.Path.String(),
					Message: fmt.Sprintf("%s[%s] leads back to %s: the connections form a cycle; the analysis stops there", last.n.cfg.Name, port, to),
					Hint:    "a pipeline must be acyclic: remove one of the connections of the cycle",
				})
				continue
			}
			var others []string
			if len(dests) > 1 {
				others = slices.DeleteFunc(slices.Clone(dests), func(s string) bool { return s == to })
			}
			// steps is a stack: a callee only writes past the caller's
			// last step, so sharing the backing array is safe.
			a.walk(in, append(steps, step{n: a.g.byName[to], competing: others}), onPath)
		}
	}
	steps[len(steps)-1].port = ""
}

// emit judges one complete path and records it.
func (a *analysis) emit(in Intake, steps []step) {
	if len(a.rep.Paths) >= MaxPaths {
		a.rep.PathsOmitted++
		return
	}
	hops := make([]Hop, len(steps))
	for i, s := range steps {
		hops[i] = Hop{Node: s.n.cfg.Name, Type: s.n.cfg.Type, Port: s.port}
	}
	hops[0].Intake = in.Name
	v := a.judge(in, steps)
	p := Path{
		Hops: hops, Text: hopText(hops), Promise: v.promise, Summary: v.summary,
		Notes: notes(steps),
	}
	if p.Notes == nil {
		p.Notes = []string{}
	}
	if v.at >= 0 {
		p.AnsweredAt = steps[v.at].n.cfg.Name
	}
	if len(v.quals) > 0 {
		p.Summary += " (" + strings.Join(v.quals, "; ") + ")"
	}
	if v.at >= 0 && v.at < len(steps)-1 && v.promise != PromiseUnknown && v.promise != PromiseNoRoute {
		p.After = a.after(v, steps)
	}
	a.rep.Paths = append(a.rep.Paths, p)
	a.pathWarnings(in, steps, v)
}

// verdict is what a path promises.
type verdict struct {
	promise Promise
	at      int // index of the step that decides the answer; -1: none
	summary string
	quals   []string
	// fan is the index of the fan-out that made the path best effort by
	// not awaiting it, or -1.
	fan int
}

// judge derives the promise of the path steps for a client of intake in.
func (a *analysis) judge(in Intake, steps []step) verdict {
	recv := steps[0].n
	if !recv.declared {
		return verdict{promise: PromiseUnknown, at: -1, fan: -1,
			summary: fmt.Sprintf("%s (at %s)", recv.decl.Line, recv.cfg.Name)}
	}
	switch in.Answer {
	case AnswerNone:
		why := ""
		if in.Key != "" {
			why = " (" + in.Key + ")"
		}
		return verdict{promise: PromiseNoClient, at: 0, fan: -1,
			summary: fmt.Sprintf("no client: %s awaits no outcome%s", recv.cfg.Name, why)}
	case AnswerOnAdmission:
		return verdict{promise: PromiseAckedBeforeDelivery, at: 0, fan: -1,
			summary: fmt.Sprintf("acked before delivery: %s at %s", in.Key, recv.cfg.Name)}
	}
	return a.judgeFrom(steps, 1)
}

// judgeFrom derives the promise of steps[from:] for a sender that waits
// for the outcome of what it sent to steps[from].
func (a *analysis) judgeFrom(steps []step, from int) verdict {
	var quals []string
	for i := from; i < len(steps); i++ {
		s := steps[i]
		d := s.n.decl
		name := s.n.cfg.Name
		switch d.Effect {
		case EffectPersist:
			return verdict{promise: PromiseDurable, at: i, fan: -1, quals: quals,
				summary: fmt.Sprintf("durable at %s (%s) before the client's answer", name, durabilityText(d.Durability))}
		case EffectEarly:
			why := d.Key
			if why == "" {
				why = d.Line
			}
			return verdict{promise: PromiseBestEffort, at: i, fan: -1, quals: quals,
				summary: fmt.Sprintf("best effort: %s at %s", why, name)}
		case EffectFanout:
			f := d.Fanout
			dst, _ := f.dest(s.port)
			switch f.Await {
			case AwaitNone:
				return verdict{promise: PromiseBestEffort, at: i, fan: i, quals: quals,
					summary: fmt.Sprintf("best effort: fan-out await_ack: none at %s", name)}
			case AwaitPrimary:
				if !f.inPrimaryChain(dst) {
					p, _ := f.primary()
					return verdict{promise: PromiseBestEffort, at: i, fan: i, quals: quals,
						summary: fmt.Sprintf("best effort: %s[%s] is a copy %s does not await (await_ack: primary answers with %s)",
							name, s.port, name, a.destName(s.n, p.Port))}
				}
				if dst.FallbackFor != "" {
					quals = append(quals, a.fallbackText(s.n, f, dst))
				}
				var copies []string
				for _, o := range f.Destinations {
					if o.FallbackFor == "" && !f.inPrimaryChain(o) {
						copies = append(copies, a.destName(s.n, o.Port))
					}
				}
				if len(copies) > 0 {
					quals = append(quals, strings.Join(copies, ", ")+" best effort")
				}
			default: // all
				if dst.FallbackFor != "" {
					quals = append(quals, a.fallbackText(s.n, f, dst))
				}
				var others []string
				for _, o := range f.Destinations {
					if o.FallbackFor == "" && o.Port != f.root(dst).Port {
						others = append(others, a.destName(s.n, o.Port))
					}
				}
				if len(others) > 0 {
					quals = append(quals, fmt.Sprintf("%s also waits for %s (await_ack: all)", name, strings.Join(others, ", ")))
				}
			}
		case EffectDeliver:
			return verdict{promise: PromiseDelivered, at: i, fan: -1,
				quals:   append([]string{"at least once to " + name}, quals...),
				summary: fmt.Sprintf("answered after %s's ack", name)}
		case EffectDiscard:
			return verdict{promise: PromiseDiscarded, at: i, fan: -1, quals: quals,
				summary: fmt.Sprintf("discarded: %s (%s) acks without delivering anywhere", name, s.n.cfg.Type)}
		case EffectUnknown:
			return verdict{promise: PromiseUnknown, at: -1, fan: -1,
				summary: fmt.Sprintf("%s (at %s)", d.Line, name)}
		}
		if i == len(steps)-1 && s.n.cfg.Kind != config.KindExporter {
			return verdict{promise: PromiseNoRoute, at: -1, fan: -1,
				summary: fmt.Sprintf("no route: %s sends on %s, which is not connected, so every message is nacked", name, portName(s.port))}
		}
	}
	// A receiver alone: its output is not connected.
	last := steps[len(steps)-1]
	return verdict{promise: PromiseNoRoute, at: -1, fan: -1,
		summary: fmt.Sprintf("no route: %s sends on %s, which is not connected", last.n.cfg.Name, portName(last.port))}
}

// after says what happens to the data after the answer given at v.at.
func (a *analysis) after(v verdict, steps []step) string {
	sub := a.judgeFrom(steps, v.at+1)
	end := steps[len(steps)-1].n.cfg.Name
	switch sub.promise {
	case PromiseDelivered:
		if v.promise == PromiseDurable {
			return fmt.Sprintf("then delivered from disk to %s, at least once", end)
		}
		return fmt.Sprintf("then sent to %s, whose outcome the client never hears", end)
	case PromiseDurable:
		return fmt.Sprintf("then stored at %s (%s)", steps[sub.at].n.cfg.Name, durabilityText(steps[sub.at].n.decl.Durability))
	case PromiseDiscarded:
		return fmt.Sprintf("then discarded by %s", end)
	}
	return "then " + sub.summary
}

// fallbackText says when the fallback d is used: after every destination
// before it in its chain failed.
func (a *analysis) fallbackText(pn *pnode, f *Fanout, d Destination) string {
	var before []string
	for o, ok := f.dest(d.FallbackFor); ok && len(before) < len(f.Destinations); o, ok = f.dest(o.FallbackFor) {
		before = append([]string{a.destName(pn, o.Port)}, before...)
		if o.FallbackFor == "" {
			break
		}
	}
	return "fallback: used only when " + strings.Join(before, " and then ") + " failed"
}

// destName names what a fan-out port leads to: the exporters it reaches,
// else the nodes it feeds, else NODE[port] when it is not connected.
func (a *analysis) destName(pn *pnode, port string) string {
	dests := pn.out[port]
	if len(dests) == 0 {
		return pn.cfg.Name + "[" + port + "]"
	}
	var ex []string
	seen := map[string]bool{pn.cfg.Name: true}
	for _, d := range dests {
		ex = append(ex, a.exportersFrom(a.g.byName[d], seen)...)
	}
	if len(ex) == 0 {
		return strings.Join(dests, "/")
	}
	return strings.Join(ex, "/")
}

func portName(port string) string {
	if port == "" || port == config.DefaultPort {
		return "its default output"
	}
	return "port " + port
}

func durabilityText(d string) string {
	if d == "fsync" {
		return "fsync: on disk"
	}
	return d + ": written to the OS, not fsynced"
}

// notes lists the facts of a path worth knowing beside its promise.
func notes(steps []step) []string {
	var out []string
	for _, s := range steps {
		d := s.n.decl
		name := s.n.cfg.Name
		if len(s.competing) > 0 {
			out = append(out, fmt.Sprintf("%s competes with %s for each message: one of them gets it", name, strings.Join(s.competing, ", ")))
		}
		switch {
		case d.Effect == EffectPersist && len(d.Losses) > 0:
			out = append(out, fmt.Sprintf("%s may lose data it acked: %s", name, strings.Join(d.Losses, ", ")))
		case d.Effect == EffectPass && (d.Hold > 0 || d.Retries || len(d.Drops) > 0):
			out = append(out, name+": "+d.Line)
		}
	}
	return out
}
