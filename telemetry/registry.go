package telemetry

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Kind is the Prometheus type of a family.
type Kind uint8

// Family kinds.
const (
	KindCounter Kind = iota
	KindGauge
)

func (k Kind) String() string {
	if k == KindCounter {
		return "counter"
	}
	return "gauge"
}

// Label is one name="value" pair of a series.
type Label struct{ Name, Value string }

// Labels builds a label list from name, value pairs.
func Labels(pairs ...string) []Label {
	if len(pairs)%2 != 0 {
		panic("telemetry.Labels: odd number of arguments")
	}
	ls := make([]Label, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, Label{pairs[i], pairs[i+1]})
	}
	return ls
}

// With returns ls followed by more, without modifying ls.
func With(ls []Label, more ...Label) []Label {
	out := make([]Label, 0, len(ls)+len(more))
	return append(append(out, ls...), more...)
}

type series struct {
	labels  []Label
	key     string
	counter *Counter
	gauge   *Gauge
	fgauge  *FloatGauge
	read    func() uint64 // a counter kept elsewhere (CounterFunc)
}

func (s *series) value() string {
	switch {
	case s.read != nil:
		return strconv.FormatUint(s.read(), 10)
	case s.counter != nil:
		return strconv.FormatUint(s.counter.Value(), 10)
	case s.gauge != nil:
		return strconv.FormatInt(s.gauge.Value(), 10)
	default:
		return strconv.FormatFloat(s.fgauge.Value(), 'g', -1, 64)
	}
}

type family struct {
	name, help string
	kind       Kind
	series     map[string]*series
}

// Registry holds metric families by name. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: make(map[string]*family)}
}

func labelKey(ls []Label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Name)
		b.WriteByte(0)
		b.WriteString(l.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// lookup returns the series for (name, labels), creating family and series
// as needed. Registering the same series twice returns the first one, so
// pipeline copies and restarts share a series instead of hiding each other.
func (r *Registry) lookup(name, help string, kind Kind, ls []Label, mk func(*series)) *series {
	if r == nil {
		s := &series{}
		mk(s)
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.families[name]
	if !ok {
		f = &family{name: name, help: help, kind: kind, series: make(map[string]*series)}
		r.families[name] = f
	} else if f.kind != kind {
		panic(fmt.Sprintf("telemetry: %s registered as %s and %s", name, f.kind, kind))
	}
	key := labelKey(ls)
	s, ok := f.series[key]
	if !ok {
		s = &series{labels: slices.Clone(ls), key: key}
		mk(s)
		f.series[key] = s
	}
	return s
}

// Counter returns the counter of family name with the given labels. A nil
// registry returns a fresh unregistered counter.
func (r *Registry) Counter(name, help string, ls ...Label) *Counter {
	s := r.lookup(name, help, KindCounter, ls, func(s *series) { s.counter = new(Counter) })
	if s.counter == nil {
		panic("telemetry: " + name + " is not an integer counter")
	}
	return s.counter
}

// CounterFunc registers a counter whose value read returns: a count a
// package keeps for the whole process (pdata's conversions, say), which
// knows no registry. read must be safe for concurrent use. Registering
// the same series again keeps the first read.
func (r *Registry) CounterFunc(name, help string, read func() uint64, ls ...Label) {
	s := r.lookup(name, help, KindCounter, ls, func(s *series) { s.read = read })
	if s.read == nil {
		panic("telemetry: " + name + " is not a counter function")
	}
}

// Gauge returns the gauge of family name with the given labels.
func (r *Registry) Gauge(name, help string, ls ...Label) *Gauge {
	s := r.lookup(name, help, KindGauge, ls, func(s *series) { s.gauge = new(Gauge) })
	if s.gauge == nil {
		panic("telemetry: " + name + " is not an integer gauge")
	}
	return s.gauge
}

// FloatGauge returns the float gauge of family name with the given labels.
func (r *Registry) FloatGauge(name, help string, ls ...Label) *FloatGauge {
	s := r.lookup(name, help, KindGauge, ls, func(s *series) { s.fgauge = new(FloatGauge) })
	if s.fgauge == nil {
		panic("telemetry: " + name + " is not a float gauge")
	}
	return s.fgauge
}

// Sample is one series' value at the time of a Snapshot.
type Sample struct {
	Name   string
	Kind   Kind
	Labels []Label
	Value  float64
}

// Snapshot returns every series, sorted by name and labels.
func (r *Registry) Snapshot() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Sample
	for _, f := range r.sortedFamilies() {
		for _, s := range sortedSeries(f) {
			v, _ := strconv.ParseFloat(s.value(), 64)
			out = append(out, Sample{Name: f.name, Kind: f.kind, Labels: s.labels, Value: v})
		}
	}
	return out
}

func (r *Registry) sortedFamilies() []*family {
	fs := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b *family) int { return cmp.Compare(a.name, b.name) })
	return fs
}

func sortedSeries(f *family) []*series {
	ss := make([]*series, 0, len(f.series))
	for _, s := range f.series {
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b *series) int { return cmp.Compare(a.key, b.key) })
	return ss
}

// WritePrometheus writes every family in the Prometheus text exposition
// format (version 0.0.4).
func (r *Registry) WritePrometheus(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, f := range r.sortedFamilies() {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		for _, s := range sortedSeries(f) {
			b.WriteString(f.name)
			if len(s.labels) > 0 {
				b.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=\"%s\"", l.Name, labelEscaper.Replace(l.Value))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(s.value())
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
