package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of Main.
const (
	// ExitOK: the run completed and at least one request succeeded.
	ExitOK = 0
	// ExitFailure: the run could not start, or no request succeeded.
	ExitFailure = 1
	// ExitUsage: invalid flags.
	ExitUsage = 2
)

// ReadyLine is what Main prints on stderr, as a line of its own, once it
// is ready to send (see Config.Ready).
const ReadyLine = "loadgen: ready to send"

// Main is the `ackflow loadgen` command: it parses args (flags only), runs
// the load and prints the report on stdout (text, or JSON with --json).
// SIGINT or SIGTERM stops sending early; the report covers what was sent.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return ExitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Ready = func() { fmt.Fprintln(stderr, ReadyLine) }
	rep, err := Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return ExitFailure
	}
	if asJSON {
		err = errors.Join(err, rep.WriteJSON(stdout))
	} else {
		err = errors.Join(err, rep.WriteText(stdout))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return ExitFailure
	}
	if rep.OK == 0 {
		fmt.Fprintf(stderr, "loadgen: no request succeeded\n")
		return ExitFailure
	}
	return ExitOK
}

// parseFlags reads the command line over DefaultConfig.
func parseFlags(args []string, stderr io.Writer) (Config, bool, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ackflow loadgen [flags]

Sends pre-encoded OTLP requests (or, with --protocol otap, the same
requests as OTAP batches on Arrow streams) to a loopback endpoint and
reports requests/s, items/s, errors by status and latency percentiles.
Every run is bounded: --duration, --requests or both.

Flags:
`)
		fs.PrintDefaults()
	}
	var protocol, sig, comp, arrowComp, shape string
	var asJSON bool
	fs.StringVar(&cfg.Endpoint, "endpoint", cfg.Endpoint, "target: host:port or http://host:port[/path] (default port 4317 for grpc and otap, 4318 for http)")
	fs.StringVar(&protocol, "protocol", string(cfg.Protocol), "grpc, http (protobuf bodies) or otap (one Arrow stream per connection, each request the stream's next batch)")
	fs.StringVar(&sig, "signal", string(cfg.Signal), "logs, metrics or traces")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent senders")
	fs.IntVar(&cfg.Connections, "connections", cfg.Connections, "gRPC connections shared by the workers (0: one per worker)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "total requests per second (0: as fast as possible)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to send (0: until --requests are sent; the default applies only without --requests)")
	fs.Int64Var(&cfg.Requests, "requests", cfg.Requests, "how many requests to send (0: until --duration)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "send this long first, unreported")
	fs.IntVar(&cfg.Items, "items", cfg.Items, "items per request (log records, data points or spans)")
	fs.IntVar(&cfg.BodySize, "body-size", cfg.BodySize, "bytes per log record body (--shape body)")
	fs.StringVar(&shape, "shape", string(cfg.Shape), "log records: body (--body-size bodies, one attribute) or sdk (64 B body, 4 short string attributes, ~185 B each)")
	fs.IntVar(&cfg.Pool, "pool", cfg.Pool, "distinct pre-encoded requests, sent in turn")
	fs.StringVar(&comp, "compression", string(cfg.Compression), "none, gzip or zstd (HTTP bodies, gRPC messages)")
	fs.StringVar(&arrowComp, "arrow-compression", string(NoCompression), "otap: compression of the Arrow buffers inside each batch, none or zstd")
	fs.IntVar(&cfg.OTAPRing, "otap-ring", 0, "otap: pre-encode this many batches per stream and send them in turn, a new stream each time round (0: encode each batch as it is sent)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.AllowNonLoopback, "allow-non-loopback", false, "allow an endpoint that is not a loopback address")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	cfg.Protocol, cfg.Signal, cfg.Compression, cfg.Shape = Protocol(protocol), Signal(sig), Compression(comp), Shape(shape)
	cfg.ArrowCompression = Compression(arrowComp)
	// --requests alone means "exactly that many": the default duration
	// applies only when neither bound was given.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["requests"] && !set["duration"] {
		cfg.Duration = 0
	}
	return cfg, asJSON, nil
}
