package guarantee

import (
	"fmt"
	"strings"

	"github.com/ackflow/ackflow/config"
)

// nodeWarnings checks what concerns one node whatever the path: fan-outs
// (await_ack: none before a single exporter, fallbacks that never fire)
// and ports sent on but not connected.
func (a *analysis) nodeWarnings() {
	for _, pn := range a.g.nodes {
		for _, port := range pn.sendPorts() {
			if len(pn.out[port]) == 0 {
				a.warn(Warning{
					Code: WarnPortNotConnected, Node: pn.cfg.Name, Path: pn.cfg.Path.String(),
					Message: fmt.Sprintf("%s sends on %s, which is not connected: every send there fails and its data is nacked", pn.cfg.Name, portName(port)),
					Hint:    fmt.Sprintf(`connect it, e.g. - { from: '%s["%s"]', to: NODE }, or stop sending there`, pn.cfg.Name, port),
				})
			}
		}
		f := pn.decl.Fanout
		if pn.decl.Effect != EffectFanout || f == nil {
			continue
		}
		if f.Await == AwaitNone {
			if ex := a.exportersBelow(pn); len(ex) == 1 {
				a.warn(Warning{
					Code: WarnAwaitNoneSingleExporter, Node: pn.cfg.Name, Path: configPath(pn.cfg, "await_ack"),
					Message: fmt.Sprintf("%s has await_ack: none in front of %s, the only exporter it feeds: every client is answered before %s has the data, and never hears of a failure there",
						pn.cfg.Name, ex[0], ex[0]),
					Hint: "set await_ack: primary (or all) so that the answer waits for the destination; with a single destination the fan-out only removes the guarantee",
				})
			}
		}
		for _, d := range f.Destinations {
			if d.FallbackFor == "" || f.Await == AwaitNone {
				continue
			}
			origin, ok := f.dest(d.FallbackFor)
			if !ok || origin.Timeout > 0 || a.portCanFail(pn, origin.Port) {
				continue
			}
			a.warn(Warning{
				Code: WarnFallbackNeverFires, Node: pn.cfg.Name,
				Path: configPath(pn.cfg, fmt.Sprintf("destinations[%d].fallback_for", d.Index)),
				Message: fmt.Sprintf("the fallback %s of %s can never be used: %s has no timeout and what it leads to (%s) acks every message, so it never fails",
					d.Port, pn.cfg.Name, origin.Port, a.destName(pn, origin.Port)),
				Hint: fmt.Sprintf("give destination %s a timeout, or point it at an exporter that can fail; or remove the fallback", origin.Port),
			})
		}
	}
}

// exportersBelow lists the exporters reachable from pn's send ports.
func (a *analysis) exportersBelow(pn *pnode) []string {
	var out []string
	seen := map[string]bool{pn.cfg.Name: true}
	for _, port := range pn.sendPorts() {
		for _, to := range pn.out[port] {
			out = append(out, a.exportersFrom(a.g.byName[to], seen)...)
		}
	}
	return out
}

// exportersFrom lists the exporters reachable from pn, pn included, in
// depth-first order, skipping the nodes in seen (and adding those it
// visits).
func (a *analysis) exportersFrom(pn *pnode, seen map[string]bool) []string {
	if seen[pn.cfg.Name] {
		return nil
	}
	seen[pn.cfg.Name] = true
	if pn.cfg.Kind == config.KindExporter {
		return []string{pn.cfg.Name}
	}
	var out []string
	for _, port := range pn.sendPorts() {
		for _, to := range pn.out[port] {
			out = append(out, a.exportersFrom(a.g.byName[to], seen)...)
		}
	}
	return out
}

// portCanFail reports whether what pn sends on port may be nacked: the
// port is not connected, or a node it feeds can fail.
func (a *analysis) portCanFail(pn *pnode, port string) bool {
	dests := pn.out[port]
	if len(dests) == 0 {
		return true
	}
	for _, to := range dests {
		if a.nodeCanFail(a.g.byName[to], map[string]bool{}) {
			return true
		}
	}
	return false
}

// nodeCanFail reports whether pn may nack what it receives. Only nodes
// that declare NeverFails, and pass-through nodes and fan-outs all of
// whose outputs lead to such nodes, cannot; anything unknown can.
func (a *analysis) nodeCanFail(pn *pnode, visiting map[string]bool) bool {
	name := pn.cfg.Name
	if v, ok := a.canFail[name]; ok {
		return v
	}
	if visiting[name] {
		return true // a cycle: assume the worst
	}
	visiting[name] = true
	var fails bool
	switch d := pn.decl; {
	case d.NeverFails:
		fails = false
	case d.Effect == EffectPass || d.Effect == EffectFanout:
		for _, port := range pn.sendPorts() {
			dests := pn.out[port]
			if len(dests) == 0 {
				fails = true
			}
			for _, to := range dests {
				fails = fails || a.nodeCanFail(a.g.byName[to], visiting)
			}
		}
	default:
		fails = true
	}
	a.canFail[name] = fails
	return fails
}

// pathWarnings checks what concerns one path: early answers before a
// durable buffer, retries behind unawaited fan-out branches, and
// durations longer than the receiver's deadline.
func (a *analysis) pathWarnings(in Intake, steps []step, v verdict) {
	recv := steps[0].n
	if (v.promise == PromiseAckedBeforeDelivery || v.promise == PromiseBestEffort) && v.at >= 0 {
		early := steps[v.at].n
		for _, s := range steps[v.at+1:] {
			if s.n.decl.Effect != EffectPersist {
				continue
			}
			key, path := earlyKey(early, in, steps[v.at].port)
			a.warn(Warning{
				Code: WarnEarlyAnswerBeforeDurable, Node: early.cfg.Name, Path: path,
				Message: fmt.Sprintf("%s answers before the data reaches the durable buffer %s (%s): what is lost on the way (a crash, a failure, the shutdown deadline) was already acknowledged, so %s's storage promises the client nothing",
					early.cfg.Name, s.n.cfg.Name, key, s.n.cfg.Name),
				Hint: earlyHint(early, s.n.cfg.Name),
			})
			break
		}
	}
	if v.fan >= 0 {
		fan := steps[v.fan]
		for _, s := range steps[v.fan+1:] {
			if s.n.decl.Effect != EffectPass || !s.n.decl.Retries {
				continue
			}
			why := "await_ack: none"
			if fan.n.decl.Fanout.Await == AwaitPrimary {
				why = "await_ack: primary, and it is not in the primary's chain"
			}
			a.warn(Warning{
				Code: WarnRetryBehindUnawaited, Node: s.n.cfg.Name, Path: s.n.cfg.Path.String(),
				Message: fmt.Sprintf("%s retries copies sent on %s[%s], which %s does not await (%s): the client was answered already, so the retries cannot change its answer, and data waiting for a retry is held in memory only (lost on a restart)",
					s.n.cfg.Name, fan.n.cfg.Name, fan.port, fan.n.cfg.Name, why),
				Hint: fmt.Sprintf("for reliable delivery on this branch put a processor:durable_buffer there instead, or make %s await it (await_ack: all)", fan.n.cfg.Name),
			})
		}
	}
	if in.Answer != AnswerAfterOutcome || in.Timeout <= 0 || !recv.declared {
		return
	}
	end := len(steps) - 1
	if v.at >= 0 {
		end = v.at
	}
	for i := 1; i <= end; i++ {
		s := steps[i]
		ts := s.n.decl.Timeouts
		if f := s.n.decl.Fanout; s.n.decl.Effect == EffectFanout && f != nil && s.n.awaited(s.port) {
			if d, ok := f.dest(s.port); ok && d.Timeout > 0 {
				ts = append(ts[:len(ts):len(ts)], Timeout{
					Key: fmt.Sprintf("destinations[%d].timeout", d.Index), Value: d.Timeout,
					What: "waits for destination " + d.Port + " for up to",
				})
			}
		}
		if s.n.decl.Effect == EffectPersist || s.n.decl.Effect == EffectEarly {
			ts = nil // answers at once: the client does not wait for them
		}
		for _, t := range ts {
			if !t.Unlimited && t.Value <= in.Timeout {
				continue
			}
			val := FormatDuration(t.Value) + " (" + t.Key + ")"
			if t.Unlimited {
				val = "no limit (" + t.Key + ": 0)"
			}
			recvName := recv.cfg.Name
			if in.Name != "" {
				recvName += " (" + in.Name + ")"
			}
			a.warn(Warning{
				Code: WarnTimeoutExceedsReceiver, Node: s.n.cfg.Name, Path: configPath(s.n.cfg, t.Key),
				Message: fmt.Sprintf("%s %s %s, longer than the timeout of %s, %s: the client is answered with a timeout first and may resend while the work goes on (duplicates), and a later success is never reported",
					s.n.cfg.Name, t.What, val, recvName, FormatDuration(in.Timeout)),
				Hint: fmt.Sprintf("keep %s below %s, or raise the receiver's timeout above it", t.Key, FormatDuration(in.Timeout)),
			})
		}
	}
}

// earlyKey names the setting that made node n answer early, and its YAML
// path.
func earlyKey(n *pnode, in Intake, port string) (key, path string) {
	switch {
	case n.decl.Effect == EffectReceive:
		k, _, _ := strings.Cut(in.Key, ":")
		return in.Key, configPath(n.cfg, k)
	case n.decl.Effect == EffectFanout && n.decl.Fanout.Await == AwaitPrimary:
		return fmt.Sprintf("await_ack: primary does not await %s", port), configPath(n.cfg, "await_ack")
	case n.decl.Effect == EffectFanout:
		return "await_ack: none", configPath(n.cfg, "await_ack")
	}
	k, _, _ := strings.Cut(n.decl.Key, ":")
	return n.decl.Key, configPath(n.cfg, k)
}

func earlyHint(n *pnode, buffer string) string {
	switch n.decl.Effect {
	case EffectReceive:
		return fmt.Sprintf("set wait_for_result: true on %s: %s answers as soon as the data is stored, so clients wait only for the write", n.cfg.Name, buffer)
	case EffectFanout:
		return fmt.Sprintf("make %s await this branch (await_ack: all, or make it the primary), so that the answer waits for %s's write", n.cfg.Name, buffer)
	}
	return fmt.Sprintf("move %s after %s, or make it wait for the outcome", buffer, n.cfg.Name)
}
