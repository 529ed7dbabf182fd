#!/usr/bin/env bash
# Interop tests of ackflow with the real OpenTelemetry Collector and
# telemetrygen (issue 3), and of the Kafka nodes with kcat (issue 19).
# Builds ackflow (from the repository root), the minimal collector in
# cmd/otelcol, the otelarrow collector in otelarrowcol/ (its own module:
# the contrib otelarrow components pin an older collector core) and
# telemetrygen (this module's tool), installs kcat if it can, then runs
# `go test` in this module. Needs Go, the Go module proxy and, for kcat,
# Debian's packages.
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

# kcat (librdkafka's command-line client; Debian package kafkacat, binary
# kcat or kafkacat) is the independent Kafka client of kafka_test.go. It
# is installed here when missing (as root, with apt-get; a failed install
# fails the run), and the Kafka tests then require it
# (INTEROP_REQUIRE_KCAT=1); elsewhere they skip without it.
if command -v kcat >/dev/null || command -v kafkacat >/dev/null; then
	export INTEROP_REQUIRE_KCAT=1
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "interop: installing kafkacat (kcat)" >&2
	if ! DEBIAN_FRONTEND=noninteractive timeout "$(build_left)" apt-get install -y -q kafkacat >/dev/null; then
		# The package lists may be missing or stale on a fresh machine.
		timeout "$(build_left)" apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive timeout "$(build_left)" apt-get install -y -q kafkacat >/dev/null
	fi
	export INTEROP_REQUIRE_KCAT=1
else
	echo "interop: kcat is not installed (Debian package kafkacat) and cannot be installed here: the Kafka tests skip" >&2
fi

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
