// Package components is the list of node types the ackflow binary is built
// with. Registration is an explicit list, not init() side effects, so a
// build says what it has; tests that want the binary's registry use it too.
package components

import (
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/exporters/console"
	kafkaexporter "github.com/ackflow/ackflow/nodes/exporters/kafka"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	otapexporter "github.com/ackflow/ackflow/nodes/exporters/otap"
	"github.com/ackflow/ackflow/nodes/exporters/otlpgrpc"
	"github.com/ackflow/ackflow/nodes/exporters/otlphttp"
	"github.com/ackflow/ackflow/nodes/exporters/perf"
	"github.com/ackflow/ackflow/nodes/processors/attribute"
	"github.com/ackflow/ackflow/nodes/processors/batch"
	"github.com/ackflow/ackflow/nodes/processors/debug"
	"github.com/ackflow/ackflow/nodes/processors/durablebuffer"
	"github.com/ackflow/ackflow/nodes/processors/fanout"
	"github.com/ackflow/ackflow/nodes/processors/filter"
	"github.com/ackflow/ackflow/nodes/processors/logsampling"
	"github.com/ackflow/ackflow/nodes/processors/retry"
	"github.com/ackflow/ackflow/nodes/processors/typerouter"
	kafkareceiver "github.com/ackflow/ackflow/nodes/receivers/kafka"
	"github.com/ackflow/ackflow/nodes/receivers/otap"
	"github.com/ackflow/ackflow/nodes/receivers/otlp"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

// Registry returns a registry of every node type of this build.
func Registry() *engine.Registry {
	return engine.MustRegistry(
		otlp.NewFactory(),
		otap.NewFactory(),
		kafkareceiver.NewFactory(),
		trafficgen.NewFactory(),
		batch.NewFactory(),
		debug.NewFactory(),
		fanout.NewFactory(),
		retry.NewFactory(),
		durablebuffer.NewFactory(),
		attribute.NewFactory(),
		filter.NewFactory(),
		logsampling.NewFactory(),
		typerouter.NewFactory(),
		noop.NewFactory(),
		otlpgrpc.NewFactory(),
		otlphttp.NewFactory(),
		otapexporter.NewFactory(),
		kafkaexporter.NewFactory(),
		console.NewFactory(),
		perf.NewFactory(),
	)
}
