package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A web page open on the host cannot stop the engine: its cross-origin
// text/plain POST, or a request through a rebound DNS name, is refused and
// the engine keeps running. A local client with the header stops it.
func TestAdminShutdownIsNotCrossSite(t *testing.T) {
	cmd, url := started(t, writeConfig(t, endlessConfig))
	get(t, url+"/readyz", http.StatusOK)

	post := func(host string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", url+"/api/v1/shutdown", strings.NewReader("stop"))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// What a form or fetch(..., {mode: "no-cors"}) on any site can send.
	code, body := post("", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"})
	if code != http.StatusForbidden || !strings.Contains(body, "needs the header X-Ackflow-Request: 1") {
		t.Fatalf("cross-origin text/plain POST: %d %q, want 403 naming the header", code, body)
	}
	// A page whose name was rebound to 127.0.0.1 may send any header, but
	// not another Host.
	code, body = post("evil.example:80", map[string]string{"X-Ackflow-Request": "1"})
	if code != http.StatusForbidden || !strings.Contains(body, "misdirected request") {
		t.Fatalf("POST with a foreign Host: %d %q, want 403 misdirected request", code, body)
	}
	get(t, url+"/readyz", http.StatusOK) // still running

	if code, body := post("", map[string]string{"X-Ackflow-Request": "1"}); code != http.StatusAccepted {
		t.Fatalf("POST with the header: %d %q, want 202", code, body)
	}
	if code := waitExit(t, cmd); code != exitOK {
		t.Fatalf("exit %d after the admin shutdown, want 0:\n%s", code, cmd)
	}
}
