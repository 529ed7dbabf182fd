#!/usr/bin/env bash
# Interop tests of ackflow with the real OpenTelemetry Collector and
# telemetrygen (issue 3). Builds ackflow (from the repository root), the
# minimal collector in cmd/otelcol, the otelarrow collector in
# otelarrowcol/ (its own module: the contrib otelarrow components pin an
# older collector core) and telemetrygen (this module's tool), then runs
# `go test` in this module. Needs only Go and the Go module proxy.
#
# Bounded to 30 minutes in all: from cold module and build caches on a
# loaded two-core machine the downloads and builds took about 8, plus
# about 3 for otelarrowcol (1 of downloads, 2 of compiling: Arrow and
# the 0.145 collector core share little with the rest); warm, the whole
# run takes about two minutes.
#
# Usage: interop/run.sh [go test flags, such as -v or -run Nack]
set -euo pipefail

cd "$(dirname "$0")"
bin=$(mktemp -d "${TMPDIR:-/tmp}/ackflow-interop.XXXXXX")
trap 'rm -rf "$bin"' EXIT

budget=1800     # seconds for the whole run (CI allows 90 minutes)
test_reserve=240 # seconds kept for compiling and running the tests
start=$SECONDS
left() { echo $((budget - (SECONDS - start))); }
build_left() { echo $(($(left) - test_reserve)); }

# Stripped binaries link faster; nothing here needs their debug info.
ldflags='-s -w'
echo "interop: building ackflow, otelcol, otelarrowcol and telemetrygen" >&2
timeout "$(build_left)" go -C .. build -ldflags="$ldflags" -o "$bin/" ./cmd/ackflow
timeout "$(build_left)" go build -ldflags="$ldflags" -o "$bin/" ./cmd/otelcol \
	github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen
timeout "$(build_left)" go -C otelarrowcol build -ldflags="$ldflags" -o "$bin/otelarrowcol" .
echo "interop: built in $((SECONDS - start))s" >&2

# go vet ./... covers this module (run it when changing the tests); the
# vet pass of go test would compute facts for every dependency of the
# collector, a minute from a cold cache.
t0=$SECONDS
INTEROP_BIN_DIR="$bin" timeout "$(left)" \
	go test -vet=off -count=1 -timeout "$(($(left) - 5))s" "$@" ./...
echo "interop: tests compiled and ran in $((SECONDS - t0))s" >&2
