package guarantee_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// A Declarer written as a function calling Declare answers as one built
// by From: the declaration of the loaded config, or the loader's error
// naming the node.
func TestDeclareMatchesFrom(t *testing.T) {
	load := func(n *config.Node) (time.Duration, error) {
		if n.Name == "bad" {
			return 0, errors.New("max_batch_duration: not a duration")
		}
		return 2 * time.Second, nil
	}
	declare := func(hold time.Duration, _ *config.Node) guarantee.Node { return guarantee.Batch(hold) }
	asFunc := func(n *config.Node) (guarantee.Node, error) { return guarantee.Declare(n, load, declare) }
	for _, d := range []guarantee.Declarer{asFunc, guarantee.From(load, declare)} {
		got, err := d(&config.Node{Name: "b", Type: "processor:batch"})
		if err != nil || got.Hold != 2*time.Second || got.Line != guarantee.Batch(2*time.Second).Line {
			t.Errorf("good node: got %+v, %v", got, err)
		}
		_, err = d(&config.Node{Name: "bad", Type: "processor:batch"})
		if err == nil || !strings.HasPrefix(err.Error(), `processor:batch "bad": max_batch_duration`) {
			t.Errorf("bad node: error %v, want it to name the node and keep the loader's", err)
		}
	}
}
