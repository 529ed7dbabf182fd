package typerouter

import (
	"slices"

	"github.com/ackflow/ackflow/pdata"
)

// routeKind says how a signal's port was chosen; it is the `reason` of a
// successful decision.
type routeKind uint8

const (
	routeNone    routeKind = iota // no port: the signal is nacked
	routeNamed                    // the port named after the signal
	routeDefault                  // the default output: the signal's own port is not connected
)

// route is where one signal goes.
type route struct {
	kind routeKind
	port string // "" for routeNone
}

// routes is the route of every signal, indexed by pdata.Signal.
type routes [3]route

// resolveRoutes builds the table from the connected ports and the node's
// default_output:
//
//	signal port connected        → that port            (named_route)
//	else a fallback port exists  → the fallback port    (default_route_unwired)
//	else                         → none: nacked          (no_available_route)
//
// The fallback is default_output when it is connected, else the only
// connected port when it is not named after a signal (fallbackPort).
func resolveRoutes(connected []string, defaultOutput string) routes {
	var rs routes
	fallback := fallbackPort(defaultOutput, connected)
	for _, s := range pdata.Signals() {
		switch port := PortFor(s); {
		case slices.Contains(connected, port):
			rs[s] = route{kind: routeNamed, port: port}
		case fallback != "":
			rs[s] = route{kind: routeDefault, port: fallback}
		}
	}
	return rs
}

// selectable counts the distinct ports the routes can select: the node
// stops taking data under backpressure only when every one of them holds
// a parked message.
func (rs *routes) selectable() int {
	var ports []string
	for _, r := range rs {
		if r.kind != routeNone && !slices.Contains(ports, r.port) {
			ports = append(ports, r.port)
		}
	}
	return len(ports)
}
