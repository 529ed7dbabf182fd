package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
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

// With auth_token_file the admin API answers only the probes without the
// token, the profiler is off unless asked for, and the shutdown needs the
// token too.
func TestAdminTokenThroughTheBinary(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokenFile, []byte("tok-"+strings.Repeat("x", 28)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(endlessConfig, `http_admin: { bind_address: "127.0.0.1:0" }`,
		`http_admin: { bind_address: "127.0.0.1:0", auth_token_file: "`+tokenFile+`" }`, 1)
	cmd, url := started(t, writeConfig(t, cfg))
	get(t, url+"/readyz", http.StatusOK)
	get(t, url+"/livez", http.StatusOK)
	get(t, url+"/api/v1/status", http.StatusUnauthorized)
	get(t, url+"/metrics", http.StatusUnauthorized)

	call := func(method, path string) int {
		t.Helper()
		req, err := http.NewRequest(method, url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer tok-"+strings.Repeat("x", 28))
		req.Header.Set("X-Ackflow-Request", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call("GET", "/api/v1/status"); code != http.StatusOK {
		t.Errorf("status with the token = %d", code)
	}
	if code := call("GET", "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("pprof with the token but pprof off = %d, want 404", code)
	}
	get(t, url+"/readyz", http.StatusOK) // the 401s did not stop it
	if code := call("POST", "/api/v1/shutdown"); code != http.StatusAccepted {
		t.Fatalf("shutdown with the token = %d", code)
	}
	if code := waitExit(t, cmd); code != exitOK {
		t.Fatalf("exit %d after the shutdown, want 0:\n%s", code, cmd)
	}
}

// Off the local host without a token, ackflow refuses to start and says
// what to set; an unreadable token file is a usage error too.
func TestAdminOffLoopbackNeedsAToken(t *testing.T) {
	cfg := strings.Replace(endlessConfig, `http_admin: { bind_address: "127.0.0.1:0" }`, `http_admin: { bind_address: "0.0.0.0:0" }`, 1)
	_, stderr, code := runBinary(t, "validate", "--config", writeConfig(t, cfg))
	if code != exitUsage || !strings.Contains(stderr, "auth_token_file") || !strings.Contains(stderr, "engine.http_admin.bind_address") {
		t.Errorf("validate: exit %d, stderr %q; want 3 naming bind_address and auth_token_file", code, stderr)
	}
	missing := filepath.Join(t.TempDir(), "missing-token")
	cfg = strings.Replace(endlessConfig, `http_admin: { bind_address: "127.0.0.1:0" }`,
		`http_admin: { bind_address: "127.0.0.1:0", auth_token_file: "`+missing+`" }`, 1)
	_, stderr, code = runBinary(t, "run", "--config", writeConfig(t, cfg))
	if code != exitUsage || !strings.Contains(stderr, "auth_token_file") || !strings.Contains(stderr, "missing-token") {
		t.Errorf("run with a missing token file: exit %d, stderr %q; want 3 naming the key and file", code, stderr)
	}
}
