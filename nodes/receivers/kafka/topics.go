package kafka

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ackflow/ackflow/pdata"
)

// encoding is how a record's value is read.
type encoding uint8

const (
	encProto encoding = iota // otlp_proto: an OTLP export request, kept as bytes
	encJSON                  // otlp_json: decoded into the pdata model
)

func (e encoding) String() string {
	if e == encJSON {
		return "otlp_json"
	}
	return "otlp_proto"
}

// route is what a topic's records are: which signal, in which encoding.
type route struct {
	signal pdata.Signal
	enc    encoding
}

// router maps topics to routes: literal names first, then the patterns in
// the order logs, metrics, traces. It is immutable once built and safe for
// concurrent use.
type router struct {
	literal  map[string]route
	patterns []routePattern
	excludes []*regexp.Regexp
}

type routePattern struct {
	re *regexp.Regexp
	rt route
}

// newRouter builds the router of a validated config.
func newRouter(c *Config) (*router, error) {
	rt := &router{literal: map[string]route{}}
	sigs := map[string]pdata.Signal{"logs": pdata.Logs, "metrics": pdata.Metrics, "traces": pdata.Traces}
	for _, s := range c.signals() {
		r := route{signal: sigs[s.key]}
		if s.sig.Encoding == "otlp_json" {
			r.enc = encJSON
		}
		for _, t := range s.sig.Topics {
			if !strings.HasPrefix(t, "^") {
				rt.literal[t] = r
				continue
			}
			re, err := regexp.Compile(t)
			if err != nil {
				return nil, fmt.Errorf("%s topic pattern %q: %w", s.key, t, err)
			}
			rt.patterns = append(rt.patterns, routePattern{re: re, rt: r})
		}
		for _, e := range s.sig.ExcludeTopics {
			re, err := regexp.Compile(e)
			if err != nil {
				return nil, fmt.Errorf("%s exclude pattern %q: %w", s.key, e, err)
			}
			rt.excludes = append(rt.excludes, re)
		}
	}
	return rt, nil
}

// route returns the route of topic, or false when the receiver does not
// consume it.
func (rt *router) route(topic string) (route, bool) {
	if r, ok := rt.literal[topic]; ok {
		return r, true
	}
	for _, e := range rt.excludes {
		if e.MatchString(topic) {
			return route{}, false
		}
	}
	for _, p := range rt.patterns {
		if p.re.MatchString(topic) {
			return p.rt, true
		}
	}
	return route{}, false
}

// consumeOpts is the receiver's subscription. Without a pattern it names
// the topics (metadata is loaded for those only); with one, every topic
// becomes a pattern (literal names anchored and quoted) and the exclusions
// apply to all of them.
func (rt *router) consumeOpts() []kgo.Opt {
	lits := make([]string, 0, len(rt.literal))
	for t := range rt.literal {
		lits = append(lits, t)
	}
	slices.Sort(lits)
	if len(rt.patterns) == 0 {
		return []kgo.Opt{kgo.ConsumeTopics(lits...)}
	}
	all := make([]string, 0, len(lits)+len(rt.patterns))
	for _, t := range lits {
		all = append(all, "^"+regexp.QuoteMeta(t)+"$")
	}
	for _, p := range rt.patterns {
		all = append(all, p.re.String())
	}
	opts := []kgo.Opt{kgo.ConsumeRegex(), kgo.ConsumeTopics(all...)}
	if len(rt.excludes) > 0 {
		ex := make([]string, len(rt.excludes))
		for i, e := range rt.excludes {
			ex[i] = e.String()
		}
		opts = append(opts, kgo.ConsumeExcludeTopics(ex...))
	}
	return opts
}
