package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ackflow/ackflow/admin"
)

// ANSI sequences of the live view: the alternate screen (the terminal
// gets its content back at the end), cursor home and clear, cursor
// hidden while drawing.
const (
	ansiEnterScreen = "\x1b[?1049h\x1b[?25l"
	ansiLeaveScreen = "\x1b[?25h\x1b[?1049l"
	ansiHomeClear   = "\x1b[H\x1b[2J"
)

// tokenEnv is read when --token is not given, so that the token need not
// appear in the process list.
const tokenEnv = "ACKFLOW_ADMIN_TOKEN"

// adminClient calls the admin API of a running ackflow.
type adminClient struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// newAdminClient takes --admin as host:port or a URL (https://host:port
// for an admin server with TLS).
func newAdminClient(addr, token string) *adminClient {
	base := strings.TrimRight(addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if token == "" {
		token = os.Getenv(tokenEnv)
	}
	return &adminClient{base: base, token: token, http: &http.Client{Transport: &http.Transport{Proxy: nil}}}
}

// close releases idle connections.
func (c *adminClient) close() { c.http.CloseIdleConnections() }

// get sends GET path and returns the response if it is 200; otherwise an
// error that says what to do.
func (c *adminClient) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", c.base, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the admin API at %s (is ackflow running, and is that its engine.http_admin.bind_address?): %w", c.base, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	err = &apiError{code: resp.StatusCode, msg: strings.TrimSpace(string(msg))}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%w (pass --token TOKEN or set %s)", err, tokenEnv)
	}
	return nil, err
}

// apiError is an answer of the admin API other than 200.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

// status reads /api/v1/status; raw is the body as received.
func (c *adminClient) status(ctx context.Context) (doc *admin.StatusDocument, raw []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.get(ctx, "/api/v1/status")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read the status: %w", err)
	}
	doc = new(admin.StatusDocument)
	if err := json.Unmarshal(raw, doc); err != nil {
		return nil, nil, fmt.Errorf("decode the status: %w", err)
	}
	return doc, raw, nil
}

func cmdTop(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin", "127.0.0.1:8080", "admin API `address` (host:port, or https://host:port)")
	token := fs.String("token", "", "admin API `token`, sent as 'Authorization: Bearer TOKEN' (default $"+tokenEnv+")")
	interval := fs.Duration("interval", time.Second, "refresh `period`; rates are computed over it")
	once := fs.Bool("once", false, "print one frame (two reads --interval apart, for the rates) and exit")
	asJSON := fs.Bool("json", false, "print the raw status document (GET /api/v1/status) and exit")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ackflow top: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *interval < 0 || (*interval == 0 && !*once && !*asJSON) {
		fmt.Fprintln(stderr, "ackflow top: --interval must be positive (0 is allowed with --once: one read, no rates)")
		return exitUsage
	}
	c := newAdminClient(*addr, *token)
	defer c.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *asJSON {
		_, raw, err := c.status(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "ackflow top: %v\n", err)
			return exitRuntime
		}
		_, _ = stdout.Write(raw)
		return exitOK
	}
	if *once {
		prev, _, err := c.status(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "ackflow top: %v\n", err)
			return exitRuntime
		}
		cur := prev
		if *interval > 0 {
			select {
			case <-time.After(*interval):
			case <-ctx.Done():
				return exitOK
			}
			if cur, _, err = c.status(ctx); err != nil {
				fmt.Fprintf(stderr, "ackflow top: %v\n", err)
				return exitRuntime
			}
		} else {
			prev = nil
		}
		fmt.Fprint(stdout, renderTop(topFrame{addr: c.base, interval: *interval, prev: prev, cur: cur}))
		return exitOK
	}
	return liveTop(ctx, c, *interval, stdout)
}

// liveTop redraws the view every interval until q, Ctrl-C or SIGTERM. On
// a terminal it draws on the alternate screen and reads keys unbuffered;
// otherwise it prints one frame after the other.
func liveTop(ctx context.Context, c *adminClient, interval time.Duration, stdout io.Writer) int {
	out, tty := stdout.(*os.File)
	tty = tty && isTerminal(out)
	quit := make(chan struct{})
	if tty {
		fmt.Fprint(out, ansiEnterScreen)
		defer fmt.Fprint(out, ansiLeaveScreen)
		if restore, ok := keysUnbuffered(os.Stdin); ok {
			defer restore()
			go readQuitKey(os.Stdin, quit)
		}
	}
	var prev *admin.StatusDocument
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		f := topFrame{addr: c.base, interval: interval, prev: prev, tty: tty}
		cur, _, err := c.status(ctx)
		if ctx.Err() != nil {
			return exitOK
		}
		if err != nil {
			f.err, f.cur = err, prev // keep showing the last view, with the error
		} else {
			f.cur = cur
		}
		if tty {
			f.width, f.height = terminalSize(out)
			fmt.Fprint(out, ansiHomeClear+renderTop(f))
		} else {
			fmt.Fprint(stdout, renderTop(f)+"\n")
		}
		if err == nil {
			prev = cur
		}
		select {
		case <-tick.C:
		case <-quit:
			return exitOK
		case <-ctx.Done():
			return exitOK
		}
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func terminalSize(f *os.File) (width, height int) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Col), int(ws.Row)
}

// keysUnbuffered makes a terminal deliver key presses at once, without
// echo (Ctrl-C still interrupts), and returns how to restore it.
func keysUnbuffered(f *os.File) (restore func(), ok bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, false
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, false
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, true
}

// readQuitKey closes quit when q is pressed (or the input ends). It stays
// blocked in Read otherwise: the process exits around it.
func readQuitKey(r io.Reader, quit chan<- struct{}) {
	buf := make([]byte, 16)
	for {
		n, err := r.Read(buf)
		if slices.ContainsFunc(buf[:n], func(b byte) bool { return b == 'q' || b == 'Q' }) || err != nil {
			close(quit)
			return
		}
	}
}

// topFrame is what one frame shows.
type topFrame struct {
	addr          string
	interval      time.Duration
	prev, cur     *admin.StatusDocument // prev nil: no rates yet
	err           error                 // the last read failed
	tty           bool
	width, height int            // 0: no limit
	loc           *time.Location // for the clock; nil: local time
}

// renderTop draws one frame. It is a pure function of the frame, so that
// tests compare it with golden files.
func renderTop(f topFrame) string {
	var b strings.Builder
	header := "ackflow top  " + f.addr
	if f.cur != nil {
		loc := f.loc
		if loc == nil {
			loc = time.Local
		}
		header += "  " + f.cur.Time.In(loc).Format("15:04:05")
		if f.cur.Ready {
			header += "  ready"
		} else {
			header += "  NOT READY"
		}
	}
	if f.interval > 0 {
		header += fmt.Sprintf("  every %s", f.interval)
	}
	if f.tty {
		header += "  (q: quit)"
	}
	b.WriteString(header + "\n")
	if f.err != nil {
		fmt.Fprintf(&b, "ERROR: %v\n", f.err)
	}
	if f.cur == nil {
		return clip(b.String(), f.width, f.height)
	}
	dt := 0.0
	if f.prev != nil {
		dt = f.cur.Time.Sub(f.prev.Time).Seconds()
	}
	for _, p := range f.cur.Pipelines {
		var pp *admin.PipelineDocument
		if f.prev != nil && dt > 0 {
			pp = findPipeline(f.prev, p.Name)
		}
		renderPipeline(&b, p, pp, dt)
	}
	return clip(b.String(), f.width, f.height)
}

func findPipeline(d *admin.StatusDocument, name string) *admin.PipelineDocument {
	for i := range d.Pipelines {
		if d.Pipelines[i].Name == name {
			return &d.Pipelines[i]
		}
	}
	return nil
}

func renderPipeline(b *strings.Builder, p admin.PipelineDocument, prev *admin.PipelineDocument, dt float64) {
	b.WriteString("\n")
	fmt.Fprintf(b, "PIPELINE %s  copies %d  in flight %s  oldest %s", p.Name, p.Copies, count(p.InFlight), age(p.OldestInFlightSeconds))
	if p.AccountingMismatches > 0 {
		fmt.Fprintf(b, "  ACCOUNTING MISMATCH ×%d (see the log)", p.AccountingMismatches)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SIGNAL\tADMITTED\tADMITTED/s\tDELIVERED\tNACKED\tDROPPED\tIN FLIGHT\tPERSISTED\tOLDEST")
	all := append([]admin.SignalDocument{{Signal: "all", FlowDocument: p.FlowDocument}}, p.Signals...)
	for _, s := range all {
		if s.Signal != "all" && s.Admitted == 0 && s.Delivered+s.Nacked+s.Dropped == 0 {
			continue // a signal that never passed
		}
		rate := "-"
		if prev != nil {
			before := prev.FlowDocument
			for _, ps := range prev.Signals {
				if ps.Signal == s.Signal {
					before = ps.FlowDocument
				}
			}
			rate = perSec(s.Admitted, before.Admitted, dt)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Signal, count(s.Admitted), rate, count(s.Delivered),
			count(s.Nacked), count(s.Dropped), count(s.InFlight), count(s.Persisted), age(s.OldestInFlightSeconds))
	}
	_ = tw.Flush()

	nodes := aggregateNodes(p.Nodes)
	var prevNodes map[string]*nodeRow
	if prev != nil {
		prevNodes = map[string]*nodeRow{}
		for _, n := range aggregateNodes(prev.Nodes) {
			prevNodes[n.name] = n
		}
	}
	b.WriteString("\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tTYPE\tSTATE\tIN/s\tOUT/s\tACKED\tNACKED\tDROPPED\tIN FLIGHT\tQUEUE\tOLDEST")
	for _, n := range nodes {
		in, out := "-", "-"
		if pn := prevNodes[n.name]; pn != nil {
			if n.kind != "receiver" {
				in = perSec(n.doc.Received, pn.doc.Received, dt)
			}
			out = perSec(n.out(), pn.out(), dt)
		}
		inflight := "-"
		if n.doc.InFlight != nil {
			inflight = count(uint64(*n.doc.InFlight))
		}
		queue := "-"
		if n.capacity > 0 {
			queue = fmt.Sprintf("%d/%d %d%%", n.queued, n.capacity, percent(n.queued, n.capacity))
		}
		oldest := "-"
		if n.kind == "receiver" {
			oldest = age(n.doc.OldestInFlightSeconds)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.name, n.doc.Type, n.state, in, out,
			count(n.doc.Acked), count(n.doc.Nacked), count(n.doc.Dropped), inflight, queue, oldest)
	}
	_ = tw.Flush()
	for _, n := range nodes {
		renderNodeDetails(b, n, prevNodes[n.name], dt)
	}
}

// nodeRow is a node over every copy: the counters are already totals; the
// queues and ports are summed; the states listed.
type nodeRow struct {
	name, kind       string
	state            string
	doc              admin.NodeDocument // of the first copy: totals and type
	queued, capacity int
	ports            []admin.PortDocument // summed over copies, by port
	details          []map[string]any     // per copy, when there are any
}

// out is the items the node passed on: sent, or for an exporter answered.
func (n *nodeRow) out() uint64 {
	if n.kind == "exporter" {
		return n.doc.Acked + n.doc.Nacked + n.doc.Dropped
	}
	return n.doc.Sent
}

func aggregateNodes(docs []admin.NodeDocument) []*nodeRow {
	var rows []*nodeRow
	byName := map[string]*nodeRow{}
	states := map[string]map[string]int{}
	for _, d := range docs {
		r := byName[d.Name]
		if r == nil {
			r = &nodeRow{name: d.Name, kind: d.Kind, doc: d}
			byName[d.Name] = r
			rows = append(rows, r)
			states[d.Name] = map[string]int{}
		}
		states[d.Name][d.State]++
		r.queued += d.Queued
		r.capacity += d.QueueCapacity
		for _, o := range d.Outputs {
			i := slices.IndexFunc(r.ports, func(p admin.PortDocument) bool { return p.Port == o.Port })
			if i < 0 {
				r.ports = append(r.ports, o)
				continue
			}
			p := &r.ports[i]
			p.SentItems += o.SentItems
			p.Queued += o.Queued
			p.QueueCapacity += o.QueueCapacity
			p.Taps += o.Taps
		}
		if len(d.Details) > 0 {
			r.details = append(r.details, d.Details)
		}
	}
	for _, r := range rows {
		var parts []string
		for s, n := range states[r.name] {
			if len(states[r.name]) == 1 {
				parts = append(parts, s)
			} else {
				parts = append(parts, fmt.Sprintf("%s×%d", s, n))
			}
		}
		sort.Strings(parts)
		r.state = strings.Join(parts, ",")
	}
	return rows
}

// renderNodeDetails writes what does not fit the node's row: failures by
// cause and reason, the ports of a node with several (a fan-out's
// destinations: where data goes and whether it backs up), taps, and what
// the node reports of itself.
func renderNodeDetails(b *strings.Builder, n, prev *nodeRow, dt float64) {
	if len(n.doc.NackedByCause) > 0 {
		fmt.Fprintf(b, "  %s nacked: %s\n", n.name, countsBy(n.doc.NackedByCause))
	}
	if len(n.doc.DroppedByReason) > 0 {
		fmt.Fprintf(b, "  %s dropped: %s\n", n.name, countsBy(n.doc.DroppedByReason))
	}
	if len(n.ports) > 1 || (len(n.ports) == 1 && (full(n.ports[0]) || n.ports[0].Taps > 0)) {
		for _, p := range n.ports {
			line := fmt.Sprintf("  %s → %s (to %s): queue %d/%d %d%%", n.name, p.Port, strings.Join(p.To, ","),
				p.Queued, p.QueueCapacity, percent(p.Queued, p.QueueCapacity))
			if len(n.ports) > 1 {
				rate := "-"
				if prev != nil {
					for _, pp := range prev.ports {
						if pp.Port == p.Port {
							rate = perSec(p.SentItems, pp.SentItems, dt)
						}
					}
				}
				line += fmt.Sprintf(", sent %s (%s/s)", count(p.SentItems), rate)
			}
			if full(p) {
				line += ", FULL: sends wait (backpressure from " + strings.Join(p.To, ",") + ")"
			}
			if p.Taps > 0 {
				line += fmt.Sprintf(", %d tap(s)", p.Taps)
			}
			b.WriteString(line + "\n")
		}
	}
	for i, d := range n.details {
		prefix := n.name
		if len(n.details) > 1 {
			prefix = fmt.Sprintf("%s#%d", n.name, i)
		}
		renderDetails(b, prefix, d)
	}
	if n.doc.RetainedItems > 0 {
		fmt.Fprintf(b, "  %s kept for the next run: %s items in %s\n", n.name, count(uint64(n.doc.RetainedItems)), n.doc.RetainedWhere)
	}
}

// renderDetails writes a node's own status: scalars on one line, lists of
// objects (a fan-out's destinations) one entry per line.
func renderDetails(b *strings.Builder, prefix string, d map[string]any) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var scalars []string
	var lists []string
	for _, k := range keys {
		if items, ok := d[k].([]any); ok && len(items) > 0 {
			if _, isMap := items[0].(map[string]any); isMap {
				for _, it := range items {
					lists = append(lists, fmt.Sprintf("  %s %s: %s\n", prefix, singular(k), detailValue("", it)))
				}
				continue
			}
		}
		scalars = append(scalars, k+"="+detailValue(k, d[k]))
	}
	if len(scalars) > 0 {
		fmt.Fprintf(b, "  %s: %s\n", prefix, strings.Join(scalars, " "))
	}
	for _, l := range lists {
		b.WriteString(l)
	}
}

// full reports whether a port's channel has no room: the node's sends on
// it wait.
func full(p admin.PortDocument) bool { return p.QueueCapacity > 0 && p.Queued >= p.QueueCapacity }

func singular(k string) string { return strings.TrimSuffix(k, "s") }

// detailValue formats a JSON value compactly: bytes and seconds in units
// when the key says so, objects as {k:v ...} sorted.
func detailValue(key string, v any) string {
	switch v := v.(type) {
	case float64:
		switch {
		case strings.HasSuffix(key, "_bytes"):
			return bytesHuman(v)
		case strings.HasSuffix(key, "_s") || strings.HasSuffix(key, "_seconds"):
			return age(v)
		case v == float64(int64(v)):
			return count(uint64(max(v, 0)))
		}
		return fmt.Sprintf("%.3g", v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + detailValue(k, v[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = detailValue(key, x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return "-"
	}
	return fmt.Sprint(v)
}

func countsBy(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + count(m[k])
	}
	return strings.Join(parts, ", ")
}

// count formats an item count: 999, 1.2k, 34.5M, 1.2G.
func count(n uint64) string {
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fG", float64(n)/1e9)
}

func perSec(cur, prev uint64, dt float64) string {
	if dt <= 0 || cur < prev { // a restart resets the counters
		return "-"
	}
	r := float64(cur-prev) / dt
	if r < 10 && r != float64(int64(r)) {
		return fmt.Sprintf("%.1f", r)
	}
	return count(uint64(r + 0.5))
}

func percent(n, capacity int) int {
	if capacity <= 0 {
		return 0
	}
	return n * 100 / capacity
}

// age formats seconds: 0s, 850ms, 12s, 3m05s, 2h10m.
func age(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func bytesHuman(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f%s", v, units[i])
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

// clip cuts the frame to the terminal: long lines at its width, and the
// lines that do not fit its height (with a note).
func clip(s string, width, height int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if height > 1 && len(lines) > height-1 {
		more := len(lines) - (height - 2)
		lines = append(lines[:height-2], fmt.Sprintf("… %d more lines (enlarge the terminal, or use --once)", more))
	}
	for i, l := range lines {
		if r := []rune(l); width > 0 && len(r) > width {
			l = string(r[:width])
		}
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}
