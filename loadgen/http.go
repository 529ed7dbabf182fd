package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// httpTransport posts the pool's encoded bodies to one URL.
type httpTransport struct {
	client *http.Client
	tr     *http.Transport
	url    string
	pool   *Pool
}

func newHTTPTransport(cfg Config, t target, pool *Pool) *httpTransport {
	d := &dialer{allowAny: cfg.AllowNonLoopback}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        cfg.Workers,
		MaxIdleConnsPerHost: cfg.Workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // responses are tiny; never ask for gzip
		WriteBufferSize:     otlpgrpc.WriteBufferSize,
		ReadBufferSize:      32 << 10,
	}
	path := t.path
	if path == "" {
		path = "/v1/" + string(cfg.Signal)
	}
	return &httpTransport{
		client: &http.Client{
			Transport: tr,
			// A redirect is answered as it is, never followed: load must
			// not go anywhere the loopback check did not see.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		tr:   tr,
		url:  "http://" + t.hostPort() + path,
		pool: pool,
	}
}

// send posts pool request i and classifies the answer: 2xx is success,
// anything else is counted under its status code.
func (h *httpTransport) send(ctx context.Context, _ int, i int) result {
	body := h.pool.Encoded[i]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return result{status: StatusTransport}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if h.pool.Compression != NoCompression {
		req.Header.Set("Content-Encoding", string(h.pool.Compression))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return result{status: StatusTimeout}
		}
		return result{status: StatusTransport}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if resp.StatusCode/100 != 2 {
		return result{status: strconv.Itoa(resp.StatusCode)}
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return result{status: StatusTimeout}
		}
		return result{status: StatusTransport}
	}
	return result{rejected: rejectedItems(b)}
}

func (h *httpTransport) close() error {
	h.tr.CloseIdleConnections()
	return nil
}
