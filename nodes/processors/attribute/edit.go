package attribute

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Domains, as indexes of the `domain` label.
const (
	domSignal = iota
	domResource
	domScope
	numDomains
)

var domainNames = [numDomains]string{DomainSignal, DomainResource, DomainScope}

// domainIndex maps an otlpwire domain to its label index.
func domainIndex(d otlpwire.Domains) int {
	switch d {
	case otlpwire.ResourceAttrs:
		return domResource
	case otlpwire.ScopeAttrs:
		return domScope
	}
	return domSignal
}

// editor applies the actions, in order, to one attribute list at a time,
// and counts the entries each action changed. It is the byte path's
// otlpwire.AttrsEditor (EditAttrs, here) and the pdata path's (editMap, in
// pdatapath.go): the two implement the same rules, which the differential
// tests hold them to.
//
// The rules, for a list with unique keys (OTLP requires them):
//
//	delete k          removes k
//	rename s to d     if s is present: removes d, then renames s to d (s's value wins)
//	insert k v        adds k = v if k is absent
//	upsert k v        sets k = v, adding it if absent
//	update k v        sets k = v if k is present
//	hash k            if k's value is a scalar: replaces it with the lowercase hex
//	                  SHA-256 of salt || value (strings as UTF-8, bytes as they are,
//	                  bools as one byte 0 or 1, ints and doubles as 8 bytes little-endian)
//
// With from_attribute, v is the value of that attribute, and the action
// does nothing where it is absent. On the byte path an action on k acts on
// every entry with key k, so a list with duplicate keys (invalid OTLP) has
// them all deleted, renamed or set; pdata's Map acts on the first.
//
// It is not safe for concurrent use; the node goroutine owns it.
type editor struct {
	actions []action
	counts  [numActions][numDomains]uint64 // since the last take
	hashIn  []byte                         // salt || value
	hexOut  [2 * sha256.Size]byte
}

var _ otlpwire.AttrsEditor = (*editor)(nil)

// EditAttrs applies the actions to a.
func (e *editor) EditAttrs(a *otlpwire.Attrs) {
	d := domainIndex(a.Domain())
	for i := range e.actions {
		act := &e.actions[i]
		var n uint64
		switch act.kind {
		case actDelete:
			for j := range a.Len() {
				if live(a, j, act.key) {
					a.Delete(j)
					n++
				}
			}
		case actRename:
			if find(a, act.key) < 0 {
				break
			}
			for j := range a.Len() {
				if live(a, j, act.newKey) {
					a.Delete(j)
				}
			}
			for j := range a.Len() {
				if live(a, j, act.key) {
					a.SetKey(j, act.newKey)
					n++
				}
			}
		case actInsert:
			if find(a, act.key) >= 0 {
				break
			}
			if v, ok := e.value(a, act); ok {
				a.Append(act.key, v)
				n++
			}
		case actUpsert, actUpdate:
			v, ok := e.value(a, act)
			if !ok {
				break
			}
			// v may alias the list's buffer: SetValue only appends to it,
			// so v stays readable.
			for j := range a.Len() {
				if live(a, j, act.key) {
					a.SetValue(j, v)
					n++
				}
			}
			if n == 0 && act.kind == actUpsert {
				a.Append(act.key, v)
				n++
			}
		case actHash:
			for j := range a.Len() {
				if !live(a, j, act.key) {
					continue
				}
				if v := a.Value(j); v.Scalar() {
					a.SetValue(j, otlpwire.Value{Type: otlpwire.ValueStr, Bytes: e.hash(act.salt, v)})
					n++
				}
			}
		}
		e.counts[act.kind][d] += n
	}
}

// value returns the value an insert, upsert or update sets: its literal,
// or the value of its from_attribute, if present.
func (e *editor) value(a *otlpwire.Attrs, act *action) (otlpwire.Value, bool) {
	if act.from == "" {
		return act.value, true
	}
	j := find(a, act.from)
	if j < 0 {
		return otlpwire.Value{}, false
	}
	return a.Value(j), true
}

// hash returns the hex SHA-256 of salt || v's bytes, in e's buffer.
func (e *editor) hash(salt []byte, v otlpwire.Value) []byte {
	in := append(e.hashIn[:0], salt...)
	switch v.Type {
	case otlpwire.ValueStr, otlpwire.ValueBytes:
		in = append(in, v.Bytes...)
	case otlpwire.ValueBool:
		in = append(in, byte(v.Num))
	case otlpwire.ValueInt, otlpwire.ValueDouble:
		in = binary.LittleEndian.AppendUint64(in, v.Num)
	}
	e.hashIn = in
	sum := sha256.Sum256(in)
	hex.Encode(e.hexOut[:], sum[:])
	return e.hexOut[:]
}

// take returns the counts since the last take and clears them.
func (e *editor) take() [numActions][numDomains]uint64 {
	c := e.counts
	e.counts = [numActions][numDomains]uint64{}
	return c
}

// live reports whether entry j of a is not deleted and has key.
func live(a *otlpwire.Attrs, j int, key string) bool {
	return !a.Deleted(j) && string(a.Key(j)) == key
}

// find returns the first live entry of a with key, or -1.
func find(a *otlpwire.Attrs, key string) int {
	for j := range a.Len() {
		if live(a, j, key) {
			return j
		}
	}
	return -1
}
