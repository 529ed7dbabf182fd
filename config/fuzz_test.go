package config

import (
	"testing"
)

// FuzzParse feeds arbitrary documents to Load: parsing, the graph checks
// and every node's validator. Whatever the input, Load must return (no
// panic, no stack overflow, no endless expansion of aliases) either a
// document or errors, every one of them an *Error naming the file. The seed
// corpus in testdata/fuzz/FuzzParse holds the reference example, alias
// cycles and merge-key bombs, duplicate keys and other broken documents.
//
//	go test ./config -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	types := fakeTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Load("fuzz.yaml", data, types)
		if (d == nil) == (err == nil) {
			t.Fatalf("Load returned a document (%t) and an error (%v)", d != nil, err)
		}
		var leaves int
		walkErrors(err, func(error) { leaves++ })
		errs := Errors(err)
		if len(errs) != leaves {
			t.Fatalf("%d of %d errors are not *Error:\n%v", leaves-len(errs), leaves, err)
		}
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Err == nil || e.Msg == "" {
				t.Fatalf("incomplete error %#v", e)
			}
		}
		if d == nil {
			return
		}
		for _, g := range d.Groups {
			for _, p := range g.Pipelines {
				for _, n := range p.Nodes {
					if p.Node(n.Name) != n {
						t.Fatalf("pipeline %s: Node(%q) does not find the node", p.Name, n.Name)
					}
				}
			}
		}
	})
}
