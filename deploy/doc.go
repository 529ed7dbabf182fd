// Package deploy holds the files that run ackflow as a service — a
// hardened systemd unit, a container file and a Kubernetes manifest, each
// with its configuration — and the tests that keep them consistent with
// each other and with the binary: every configuration validates, probes,
// ports, paths, users and stop timeouts agree.
package deploy
