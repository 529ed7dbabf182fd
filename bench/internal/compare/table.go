package compare

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ackflow/ackflow/loadgen"
)

// Targets printed next to the measured figures: issue 17's (issue 9 had
// asked for an idle RSS of 20 MiB).
const (
	targetIdleRSS     = 16 << 20
	targetOverloadRSS = 128 << 20
)

// Spread is the minimum, median and maximum of a figure over rounds.
type Spread struct {
	Min, Median, Max float64
	N                int
}

// spreadOf summarizes vals; ok is false when there are none.
func spreadOf(vals []float64) (Spread, bool) {
	if len(vals) == 0 {
		return Spread{}, false
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Min: s[0], Median: med, Max: s[len(s)-1], N: len(s)}, true
}

// figure is one row of the table: how to read it from a result and how to
// print it.
type figure struct {
	name   string
	value  func(*Result) (float64, bool)
	format func(float64) string
}

func satFigure(f func(*Result) float64) func(*Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		if r.Err != nil || r.Saturation == nil {
			return 0, false
		}
		return f(r), true
	}
}

func latFigure(f func(*Result) float64) func(*Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		if r.Err != nil || r.Latency == nil || r.Latency.OK == 0 {
			return 0, false
		}
		return f(r), true
	}
}

// figures are the rows of sc's table. The first ones are the same for
// every scenario (figPerCPU and figIdleRSS index them); an OTAP sink adds
// its bytes per item.
func figures(sc Scenario) []figure {
	f := []figure{
		{"items/s at saturation", satFigure(func(r *Result) float64 { return r.Saturation.ItemsPerSecond }), fmtCount},
		{"items per CPU-second (headline)", satFigure((*Result).ItemsPerCPUSecond), fmtCount},
		{"SUT CPU at saturation (cores)", satFigure(func(r *Result) float64 { return r.CPUSeconds / r.Saturation.DurationSeconds }), fmtFloat},
		{"idle RSS", satFigure(func(r *Result) float64 { return float64(r.IdleRSS) }), fmtBytes},
		{"peak RSS", satFigure(func(r *Result) float64 { return float64(r.PeakRSS) }), fmtBytes},
		{"p50 latency at the latency rate", latFigure(func(r *Result) float64 { return r.Latency.Latency.P50 }), fmtSeconds},
		{"p99 latency at the latency rate", latFigure(func(r *Result) float64 { return r.Latency.Latency.P99 }), fmtSeconds},
		{"latency phase rate (req/s)", latFigure(func(r *Result) float64 { return r.LatencyRate }), fmtFloat},
		{"errors at saturation", satFigure(func(r *Result) float64 { return float64(r.Saturation.Errors) }), fmtInt},
		{figBusy, func(r *Result) (float64, bool) { return r.SUTCPUBusy, r.Err == nil && r.SUTCPUBusy > 0 }, fmtPercent},
	}
	if sc.SinkProtocol == loadgen.OTAP {
		f = append(f,
			figure{figWire, (*Result).WireBytesPerItem, fmtPerItem},
			figure{"OTAP message bytes per item (after gRPC decompression)", (*Result).MessageBytesPerItem, fmtPerItem},
		)
	}
	return f
}

// Indexes and names of figures the table refers to.
const (
	figPerCPU  = 1
	figCores   = 2
	figIdleRSS = 3
	figWire    = "bytes on the wire per item (OTAP sink)"
	figBusy    = "SUT's CPU busy at saturation (every process)"
)

func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtFloat(v float64) string   { return fmt.Sprintf("%.2f", v) }
func fmtInt(v float64) string     { return fmt.Sprintf("%.0f", v) }
func fmtBytes(v float64) string   { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
func fmtSeconds(v float64) string { return fmt.Sprintf("%.2f ms", v*1e3) }
func fmtRatio(v float64) string   { return fmt.Sprintf("%.2f×", v) }
func fmtPerItem(v float64) string { return fmt.Sprintf("%.1f B", v) }
func fmtPercent(v float64) string { return fmt.Sprintf("%.0f %%", v*100) }

func (s Spread) format(f func(float64) string) string {
	if s.N == 1 || s.Min == s.Max {
		return f(s.Median)
	}
	return fmt.Sprintf("%s [%s–%s]", f(s.Median), f(s.Min), f(s.Max))
}

// Table prints the results of a scenario: per system the median and range
// over rounds, then the ratios of ackflow to the baseline and to each
// collector variant (paired by round), the headline ratios against the
// baseline and the reference collector with their goals, and every
// failure.
func Table(w io.Writer, sc Scenario, results []Result) error {
	if sc.Overload {
		return overloadTable(w, sc, results)
	}
	byName := groupBySystem(results)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure (median [min–max] over rounds)")
	for _, s := range sc.Systems {
		fmt.Fprintf(tw, "\t%s", s.Name)
	}
	fmt.Fprintln(tw)
	for _, f := range figures(sc) {
		fmt.Fprintf(tw, "%s", f.name)
		for _, s := range sc.Systems {
			fmt.Fprintf(tw, "\t%s", cell(s, byName[s.Name], f))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Every figure of ackflow over every other measured system's, baseline
	// and collectors alike, paired by round.
	var peers []System
	for _, s := range sc.Systems {
		if s.Kind != Ackflow && s.Unavailable == "" {
			peers = append(peers, s)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ratio ackflow / peer (median [min–max])")
	for _, p := range peers {
		fmt.Fprintf(tw, "\tvs %s", p.Name)
	}
	fmt.Fprintln(tw)
	af := byName["ackflow"]
	for _, f := range figures(sc) {
		if f.name == "errors at saturation" || f.name == "SUT CPU at saturation (cores)" || f.name == "latency phase rate (req/s)" || f.name == figBusy {
			continue
		}
		fmt.Fprintf(tw, "%s", f.name)
		for _, p := range peers {
			sp, ok := spreadOf(pairedRatios(af, byName[p.Name], f))
			if !ok {
				fmt.Fprintf(tw, "\t—")
				continue
			}
			fmt.Fprintf(tw, "\t%s", sp.format(fmtRatio))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := headline(w, sc, byName); err != nil {
		return err
	}
	loadBound(w, sc, byName)
	if sp, ok := spreadOf(values(af, figures(sc)[figIdleRSS])); ok {
		fmt.Fprintf(w, "\nidle RSS target ≤ 16 MiB for ackflow: %s (%s)\n", verdict(true, sp.Max <= targetIdleRSS), sp.format(fmtBytes))
	}
	printFailures(w, sc, results)
	return nil
}

// headline prints the two ratios the comparison is about, from the same
// run: ackflow's items per CPU-second over the bare hop's (how close it is
// to the least work a Go program can do) and over the reference
// collector's (how it fares against the incumbent), each with its goal.
func headline(w io.Writer, sc Scenario, byName map[string][]*Result) error {
	fmt.Fprintln(w, "\nheadline: ackflow's items per CPU-second ÷ the yardstick's (paired by round, median [min–max])")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	perCPU := figures(sc)[figPerCPU]
	for _, s := range sc.Systems {
		goal, kind, source := sc.Target, "target", cmp.Or(sc.TargetSource, "issue 9")
		switch {
		case s.Kind == Baseline:
			goal, kind, source = sc.BaselineGoal, "speed goal", "docs/ENGINE.md"
		case !s.Reference:
			continue
		}
		fmt.Fprintf(tw, "  ackflow / %s", s.Name)
		if s.Unavailable != "" {
			fmt.Fprintf(tw, "\tnot measured: %s\n", s.Unavailable)
			continue
		}
		sp, ok := spreadOf(pairedRatios(byName["ackflow"], byName[s.Name], perCPU))
		if ok {
			fmt.Fprintf(tw, "\t%s", sp.format(fmtRatio))
		} else if af, ok := systemNamed(sc, "ackflow"); ok && af.Unavailable != "" {
			fmt.Fprintf(tw, "\tno figure (ackflow not available in this build)")
		} else {
			fmt.Fprintf(tw, "\tno figure (see the failures)")
		}
		if goal > 0 {
			fmt.Fprintf(tw, "\t%s ≥ %s× vs %s (%s): %s", kind, strconv.FormatFloat(goal, 'f', -1, 64), s.Name, source, verdict(ok, sp.Median >= goal))
		}
		fmt.Fprintln(tw)
	}
	if sc.WireTolerance > 0 {
		wireGoal(tw, sc, byName)
	}
	return tw.Flush()
}

// wireGoal prints ackflow's bytes on the wire per item over the reference
// collector's, paired by round, against the goal (within WireTolerance).
func wireGoal(w io.Writer, sc Scenario, byName map[string][]*Result) {
	wire := figureNamed(sc, figWire)
	for _, s := range sc.Systems {
		if !s.Reference {
			continue
		}
		fmt.Fprintf(w, "  wire bytes per item, ackflow / %s", s.Name)
		if s.Unavailable != "" || wire.value == nil {
			fmt.Fprintf(w, "\tnot measured\n")
			continue
		}
		sp, ok := spreadOf(pairedRatios(byName["ackflow"], byName[s.Name], wire))
		if ok {
			fmt.Fprintf(w, "\t%s", sp.format(fmtRatio))
		} else {
			fmt.Fprintf(w, "\tno figure")
		}
		goal := 1 + sc.WireTolerance
		fmt.Fprintf(w, "\tgoal ≤ %s× (within %.0f %% of %s): %s\n", strconv.FormatFloat(goal, 'f', -1, 64), sc.WireTolerance*100, s.Name, verdict(ok, sp.Median <= goal))
	}
}

// systemNamed returns sc's system called name.
func systemNamed(sc Scenario, name string) (System, bool) {
	for _, s := range sc.Systems {
		if s.Name == name {
			return s, true
		}
	}
	return System{}, false
}

// figureNamed returns sc's figure called name (a zero figure if none).
func figureNamed(sc Scenario, name string) figure {
	for _, f := range figures(sc) {
		if f.name == name {
			return f
		}
	}
	return figure{}
}

// saturatedCores is the CPU use below which a system was not saturated:
// it waited for load more than it worked.
const saturatedCores = 0.8

// loadBound says which systems were not saturated, and why: their CPU
// was busy with other processes (a shared machine), or they waited for
// load. Either way their items/s is not their limit; their items per
// CPU-second stay their own.
func loadBound(w io.Writer, sc Scenario, byName map[string][]*Result) {
	cores := figures(sc)[figCores]
	for _, s := range sc.Systems {
		sp, ok := spreadOf(values(byName[s.Name], cores))
		if !ok || sp.Median >= saturatedCores {
			continue
		}
		fmt.Fprintf(w, "\nnote: %s used %s cores at saturation: not saturated", s.Name, sp.format(fmtFloat))
		if b, ok := spreadOf(values(byName[s.Name], figureNamed(sc, figBusy))); ok && b.Median >= saturatedCores {
			fmt.Fprintf(w, ": its CPU was busy %s of the time, other processes took the rest (the machine is shared)", b.format(fmtPercent))
		} else {
			fmt.Fprintf(w, ": it waited for load (the load generator and the sink share the other CPU)")
		}
		fmt.Fprintf(w, "; its items/s is not its limit, its items per CPU-second are its own\n")
	}
}

func verdict(known, met bool) string {
	switch {
	case !known:
		return "no figure"
	case met:
		return "met"
	}
	return "MISSED"
}

func groupBySystem(results []Result) map[string][]*Result {
	m := map[string][]*Result{}
	for i := range results {
		m[results[i].System] = append(m[results[i].System], &results[i])
	}
	return m
}

func values(rs []*Result, f figure) []float64 {
	var v []float64
	for _, r := range rs {
		if x, ok := f.value(r); ok {
			v = append(v, x)
		}
	}
	return v
}

// cell is one system's figure over the rounds, or why there is none.
func cell(s System, rs []*Result, f figure) string {
	if s.Unavailable != "" {
		if s.Kind == Baseline { // not a gap of ackflow's build: the bare hop does less
			return "not measured (see below)"
		}
		return "not available in this build"
	}
	sp, ok := spreadOf(values(rs, f))
	if !ok {
		if len(rs) > 0 && rs[0].Err != nil {
			return "failed (see below)"
		}
		return "—"
	}
	out := sp.format(f.format)
	if sp.N < len(rs) {
		out += fmt.Sprintf(" (%d/%d rounds)", sp.N, len(rs))
	}
	return out
}

// pairedRatios divides a's figure by b's, round by round.
func pairedRatios(a, b []*Result, f figure) []float64 {
	var out []float64
	for _, ra := range a {
		for _, rb := range b {
			if ra.Round != rb.Round {
				continue
			}
			x, ok1 := f.value(ra)
			y, ok2 := f.value(rb)
			if ok1 && ok2 && y != 0 {
				out = append(out, x/y)
			}
		}
	}
	return out
}

func printFailures(w io.Writer, sc Scenario, results []Result) {
	first := true
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nfailures (these runs printed no number):")
			first = false
		}
		fmt.Fprintf(w, "  round %d %s: %v\n", r.Round+1, r.System, r.Err)
	}
	for _, s := range sc.Systems {
		if s.Unavailable != "" {
			fmt.Fprintf(w, "\n%s: %s\n", s.Name, s.Unavailable)
		}
	}
}

// overloadTable prints the overload figures.
func overloadTable(w io.Writer, sc Scenario, results []Result) error {
	byName := groupBySystem(results)
	ov := func(f func(*OverloadResult) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Err != nil || r.Overload == nil {
				return 0, false
			}
			return f(r.Overload), true
		}
	}
	rows := []figure{
		{"saturation with a fast sink (req/s)", ov(func(o *OverloadResult) float64 { return o.SaturationRate }), fmtFloat},
		{"offered rate (req/s, 3× saturation)", ov(func(o *OverloadResult) float64 { return o.Report.TargetRate }), fmtFloat},
		{"requests sent", ov(func(o *OverloadResult) float64 { return float64(o.Report.Requests) }), fmtInt},
		{"answered OK", ov(func(o *OverloadResult) float64 { return float64(o.Report.OK) }), fmtInt},
		{"answered with an error", ov(func(o *OverloadResult) float64 { return float64(o.Report.Errors - o.Hung()) }), fmtInt},
		{"hung (no answer within 10 s)", ov(func(o *OverloadResult) float64 { return float64(o.Hung()) }), fmtInt},
		{"items acked to clients", ov(func(o *OverloadResult) float64 { return float64(o.Report.Items) }), fmtCount},
		{"items at the sink by the stop", ov(func(o *OverloadResult) float64 { return float64(o.SinkItems) }), fmtCount},
		{"p99 latency of OK answers", ov(func(o *OverloadResult) float64 { return o.Report.Latency.P99 }), fmtSeconds},
		{"peak RSS", ov(func(o *OverloadResult) float64 { return float64(o.PeakRSS) }), fmtBytes},
		{"killed at the RSS cap after (s; 0 = never)", ov(func(o *OverloadResult) float64 { return o.KilledAt.Seconds() }), fmtFloat},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure (median [min–max] over rounds)")
	for _, s := range sc.Systems {
		fmt.Fprintf(tw, "\t%s", s.Name)
	}
	fmt.Fprintln(tw)
	for _, f := range rows {
		fmt.Fprintf(tw, "%s", f.name)
		for _, s := range sc.Systems {
			fmt.Fprintf(tw, "\t%s", cell(s, byName[s.Name], f))
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "errors by status (all rounds)")
	for _, s := range sc.Systems {
		sum := map[string]int64{}
		for _, r := range byName[s.Name] {
			if r.Overload != nil {
				for k, v := range r.Overload.Report.ErrorsByStatus {
					sum[k] += v
				}
			}
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(sum)) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, sum[k]))
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(tw, "\t%s", strings.Join(parts, " "))
	}
	fmt.Fprintln(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	af := byName["ackflow"]
	rss, ok1 := spreadOf(values(af, rows[9]))
	hung, ok2 := spreadOf(values(af, rows[5]))
	killed, ok3 := spreadOf(values(af, rows[10]))
	fmt.Fprintf(w, "\ntarget for ackflow: peak RSS ≤ 128 MiB with zero hung requests: %s\n",
		verdict(ok1 && ok2 && ok3, rss.Max <= targetOverloadRSS && hung.Max == 0 && killed.Max == 0))
	printFailures(w, sc, results)
	return nil
}
