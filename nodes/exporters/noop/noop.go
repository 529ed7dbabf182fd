package noop

import (
	"errors"
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// Type is the node type this package provides.
const Type = "exporter:noop"

// NewFactory returns the factory of exporter:noop nodes.
func NewFactory() engine.Factory {
	return engine.Factory{
		Type:         Type,
		Description:  "Acknowledges every message at once and discards it.",
		Validate:     validate,
		NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return exporter{}, nil },
		Guarantee:    declareGuarantee,
		// Acks at once and keeps nothing.
		ReleasesPayloads: true,
	}
}

// validate accepts no config block, `config: ~` or `config: {}` (the
// reference engine's usual spelling); any key is an error.
func validate(n *config.Node) error {
	p := n.Path.Key("config")
	c := n.Config
	if c == nil || c.Kind != yaml.MappingNode {
		// Null passes; anything but a mapping gets DecodeStrict's type error.
		return config.DecodeStrict(c, &struct{}{}, p)
	}
	var errs []error
	for i := 0; i+1 < len(c.Content); i += 2 {
		k := c.Content[i]
		errs = append(errs, &config.Error{
			Path: p.Key(k.Value), Line: k.Line, Column: k.Column, Err: config.ErrUnknownField,
			Msg:  fmt.Sprintf("unknown field %q", k.Value),
			Hint: "exporter:noop takes no settings: remove the key, or write config: {}",
		})
	}
	return errors.Join(errs...)
}

// exporter acks everything. It holds no state, so it is safe to share.
type exporter struct{}

// OnPData acknowledges m.
func (exporter) OnPData(m *pdata.Message, fx engine.Effects) error {
	fx.NotifyAck(m)
	return nil
}

// OnControl has nothing to do: no message is ever held.
func (exporter) OnControl(engine.Control, engine.Effects) error { return nil }
