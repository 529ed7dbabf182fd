package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/ackflow/ackflow/admin"
)

// cmdTap streams samples of what a node sends, as OTLP JSON lines, from
// the admin API of a running ackflow. The tap never blocks, acks or slows
// the pipeline: when this command reads slower than the traffic, samples
// are dropped and counted.
func cmdTap(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin", "127.0.0.1:8080", "admin API `address` (host:port, or https://host:port)")
	token := fs.String("token", "", "admin API `token`, sent as 'Authorization: Bearer TOKEN' (default $"+tokenEnv+")")
	pipeline := fs.String("pipeline", "", "the `pipeline` (group/pipeline, or pipeline) when the node name is in several")
	limit := fs.Int("limit", 0, "stop after `N` samples (0: until Ctrl-C or the pipeline stops)")
	rate := fs.String("rate", "10/s", "most samples per second: N, N/s, N/m or N/h (0: no limit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ackflow tap [--admin HOST:PORT] [--token T] [--pipeline P] [--limit N] [--rate R/s] NODE[:PORT]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	// Flags may also follow the node.
	target := fs.Arg(0)
	if fs.NArg() > 1 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return flagError(err)
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "ackflow tap: unexpected argument %q\n", fs.Arg(0))
			return exitUsage
		}
	}
	if target == "" {
		fs.Usage()
		return exitUsage
	}
	if *limit < 0 {
		fmt.Fprintln(stderr, "ackflow tap: --limit must be 0 or more")
		return exitUsage
	}
	if _, err := admin.ParseRate(*rate); err != nil {
		fmt.Fprintf(stderr, "ackflow tap: --%v\n", err)
		return exitUsage
	}
	node, port := target, ""
	if i := strings.LastIndex(target, ":"); i >= 0 {
		node, port = target[:i], target[i+1:]
	}
	q := url.Values{"node": {node}, "rate": {*rate}}
	if port != "" {
		q.Set("port", port)
	}
	if *pipeline != "" {
		q.Set("pipeline", *pipeline)
	}
	if *limit > 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}

	c := newAdminClient(*addr, *token)
	defer c.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	resp, err := c.get(ctx, "/api/v1/tap?"+q.Encode())
	if err != nil {
		fmt.Fprintf(stderr, "ackflow tap: %v\n", err)
		var ae *apiError
		if errors.As(err, &ae) && (ae.code == http.StatusBadRequest || ae.code == http.StatusNotFound) {
			return exitUsage // the node or a flag is wrong
		}
		return exitRuntime
	}
	defer resp.Body.Close()
	what := resp.Header.Get(admin.TapHeader) // "pipeline node port"
	if f := strings.Fields(what); len(f) == 3 {
		what = fmt.Sprintf("%s %s[%s]", f[0], f[1], f[2])
	}
	fmt.Fprintf(stderr, "tapping %s (Ctrl-C to stop)\n", what)

	w := bufio.NewWriter(stdout)
	lines := 0
	r := bufio.NewReader(resp.Body)
	var readErr error
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			_, _ = w.Write(line)
			_ = w.Flush()
			lines++
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	_ = w.Flush()
	summary := fmt.Sprintf("tap %s: %d samples", what, lines)
	if readErr == nil {
		if d := resp.Trailer.Get(admin.TapDroppedTrailer); d != "" && d != "0" {
			summary += fmt.Sprintf(", %s dropped (this reader was slower than the traffic; the pipeline did not wait)", d)
		}
	}
	fmt.Fprintln(stderr, summary)
	if readErr != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "ackflow tap: the stream broke: %v\n", readErr)
		return exitRuntime
	}
	return exitOK
}
