package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ackflow/ackflow/admin"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/internal/memlimit"
)

//go:embed default.yaml
var defaultConfig []byte

// load reads and validates the document at path, or the embedded default
// when path is empty. Every error is reported at once.
func load(path string, reg *engine.Registry) (*config.Document, error) {
	doc, _, err := loadReport(path, reg, false) // ignored.go
	return doc, err
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `file` to check")
	strict := fs.Bool("strict", false, "refuse the reference engine's keys that ackflow accepts without acting on them")
	format := fs.String("format", "text", "guarantee report format: text, or json (stdout then holds the JSON document alone)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "ackflow validate: --config FILE is required")
		return exitUsage
	}
	if !slices.Contains(reportFormats, *format) {
		fmt.Fprintf(stderr, "ackflow validate: --format %q: use text or json\n", *format)
		return exitUsage
	}
	doc, ignored, err := loadReport(*path, registry(), *strict)
	if err != nil {
		printConfigError(stderr, err)
		printIgnored(stderr, ignored)
		return exitUsage
	}
	human := stdout
	if *format == "json" {
		human = stderr // stdout carries the JSON report alone
	}
	fmt.Fprintf(human, "%s is valid\n", *path)
	printIgnored(human, ignored)
	if err := writeReport(stdout, guarantees(doc, registry()), *format); err != nil { // guarantees.go
		fmt.Fprintf(stderr, "ackflow validate: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// flagError is the exit code after a flag set failed to parse (and
// printed why): -h asked for the help, anything else is a usage error.
func flagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// printConfigError prints one line per error of a joined error.
func printConfigError(w io.Writer, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = flatten(j.Unwrap())
	} else {
		errs = []error{err}
	}
	fmt.Fprintf(w, "invalid configuration: %d error(s)\n", len(errs))
	for _, e := range errs {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func flatten(errs []error) []error {
	var out []error
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap())...)
			continue
		}
		out = append(out, e)
	}
	return out
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `file` (default: the built-in demo pipeline)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "ackflow run: %v\n", err)
		return exitUsage
	}
	reg := registry()
	doc, err := load(*path, reg)
	if err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}
	logIgnored(log, doc.Ignored())

	if limit := int64(doc.Engine.MemoryLimit); limit > 0 {
		rt := memlimit.SetProcess(limit)
		log.Info("memory limit set: receivers refuse new requests above its share", "limit", config.Size(limit).String(),
			"runtime_limit", config.Size(rt).String(), "refuse_above", config.Size(float64(rt)*memlimit.HighFraction).String())
	} else if limit := memlimit.Limit(); limit > 0 {
		log.Info("memory limit set (GOMEMLIMIT): receivers refuse new requests above its share", "limit", config.Size(limit).String(),
			"refuse_above", config.Size(float64(limit)*memlimit.HighFraction).String())
	}

	eng, err := engine.New(doc, reg, engine.Options{Logger: log})
	if err != nil {
		log.Error("cannot build the pipelines", "err", err)
		return exitRuntime
	}
	shutdownReq := make(chan struct{}, 1)
	requestShutdown := func() {
		select {
		case shutdownReq <- struct{}{}:
		default:
		}
	}
	adm, code := newAdmin(doc.Engine.HTTPAdmin, eng, requestShutdown, log, admin.WithGuarantees(guarantees(doc, reg)))
	if adm == nil {
		return code
	}
	go func() {
		if err := adm.Serve(); err != nil {
			log.Error("admin server stopped", "err", err)
		}
	}()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = adm.Close(ctx)
	}()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	eng.Start()
	log.Info("ackflow started", "pipelines", pipelineNames(eng), "admin", adminURL(doc.Engine.HTTPAdmin, adm))

	code = exitOK
	select {
	case s := <-sigs:
		log.Info("signal received: draining (send it again to exit at once)", "signal", s.String(),
			"deadline", time.Duration(doc.Engine.ShutdownTimeout).String())
	case <-shutdownReq:
		log.Info("shutdown requested through the admin API: draining")
	case <-eng.Failed():
		log.Error("a node failed: draining", "err", eng.Err())
		code = exitRuntime
	case <-eng.Done():
		log.Info("every pipeline finished by itself")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(doc.Engine.ShutdownTimeout))
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- eng.Shutdown(ctx) }()
	select {
	case err := <-drained:
		if err != nil {
			log.Error("shutdown deadline reached: what was left was nacked", "err", err)
			code = exitRuntime
		}
	case s := <-sigs:
		log.Error("second signal: exiting at once", "signal", s.String())
		printSummary(stderr, eng)
		return exitRuntime
	}
	if eng.Err() != nil {
		code = exitRuntime
	}
	printSummary(stderr, eng)
	return code
}

func pipelineNames(e *engine.Engine) string {
	var names []string
	for _, p := range e.Status() {
		names = append(names, fmt.Sprintf("%s×%d", p.Name, p.Copies))
	}
	return strings.Join(names, ", ")
}

// printSummary says what happened to every admitted item.
func printSummary(w io.Writer, e *engine.Engine) {
	for _, p := range e.Status() {
		f := p.Flow
		fmt.Fprintf(w, "pipeline %s: %d items received, %d delivered, %d nacked, %d dropped, %d in flight at exit\n",
			p.Name, f.Admitted, f.Delivered, f.Nacked, f.Dropped, f.InFlight())
		if p.Mismatches > 0 {
			fmt.Fprintf(w, "  ACCOUNTING MISMATCH: %d failure(s) of the conservation check, logged above (a bug: please report it)\n", p.Mismatches)
		}
		for _, n := range p.Nodes {
			if n.RetainedWhere != "" {
				fmt.Fprintf(w, "  %s (copy %d): %d items kept for the next run in %s\n", n.Name, n.Copy, n.Retained, n.RetainedWhere)
			}
		}
	}
}

// newAdmin builds and binds the admin server that cfg describes, with
// the extra options, or returns nil and the exit code.
func newAdmin(cfg config.HTTPAdmin, eng *engine.Engine, requestShutdown func(), log *slog.Logger, extra ...admin.Option) (*admin.Server, int) {
	token, err := cfg.Token()
	if err != nil {
		log.Error("cannot start the admin server", "err", err)
		return nil, exitUsage
	}
	opts := append([]admin.Option{admin.WithToken(token)}, extra...)
	if cfg.PProf {
		opts = append(opts, admin.WithPProf())
	}
	if cfg.TLS != nil {
		opts = append(opts, admin.WithTLS(cfg.TLS.CertFile, cfg.TLS.KeyFile))
	}
	adm := admin.New(eng, eng.Metrics(), requestShutdown, opts...)
	if err := adm.Listen(cfg.BindAddress); err != nil {
		log.Error("cannot start the admin server", "err", err)
		if errors.Is(err, admin.ErrNotLoopback) {
			return nil, exitUsage // a configuration problem: the name resolved to a non-loopback address
		}
		return nil, exitRuntime
	}
	if ap, err := netip.ParseAddrPort(adm.Addr()); err == nil && !ap.Addr().IsLoopback() && cfg.TLS == nil {
		log.Warn("the admin API is served off the local host over plain HTTP: its token crosses the network in clear; set engine.http_admin.tls",
			"admin", adm.Addr())
	}
	return adm, exitOK
}

func adminURL(cfg config.HTTPAdmin, adm *admin.Server) string {
	if cfg.TLS != nil {
		return "https://" + adm.Addr()
	}
	return "http://" + adm.Addr()
}
