package admin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ackflow/ackflow/admin"
	"github.com/ackflow/ackflow/telemetry"
)

const testToken = "0123456789abcdef"

// withAuth is a request as a tool would send it: any Host (the token, not
// the name, protects the server), the change header, and authorization.
func withAuth(method, path, auth string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	req.Host = "admin.example.com:8443"
	req.Header.Set(admin.RequestHeader, "1")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

func TestTokenGuardsEveryEndpointButTheProbes(t *testing.T) {
	var shutdowns atomic.Int32
	h := admin.New(readyEngine(), telemetry.NewRegistry(), func() { shutdowns.Add(1) },
		admin.WithToken(testToken), admin.WithPProf()).Handler()

	for _, path := range []string{"/livez", "/readyz"} {
		if code, body := send(t, h, withAuth("GET", path, "")); code != http.StatusOK {
			t.Errorf("GET %s without a token = %d %q, want 200 (probes are open)", path, code, body)
		}
	}
	guarded := []struct{ method, path string }{
		{"GET", "/metrics"}, {"GET", "/api/v1/status"}, {"POST", "/api/v1/shutdown"}, {"GET", "/debug/pprof/"},
	}
	for _, g := range guarded {
		for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + testToken, "bearer" + testToken, "Bearer " + testToken + "x"} {
			code, body := send(t, h, withAuth(g.method, g.path, auth))
			if code != http.StatusUnauthorized || !strings.Contains(body, "Authorization: Bearer TOKEN") {
				t.Errorf("%s %s with Authorization %q = %d %q, want 401 saying what to send", g.method, g.path, auth, code, body)
			}
		}
	}
	if shutdowns.Load() != 0 {
		t.Fatalf("shutdown called %d times without the token", shutdowns.Load())
	}
	for _, g := range guarded {
		if code, body := send(t, h, withAuth(g.method, g.path, "Bearer "+testToken)); code >= 300 {
			t.Errorf("%s %s with the token = %d %q", g.method, g.path, code, body)
		}
	}
	if shutdowns.Load() != 1 {
		t.Errorf("shutdown called %d times with the token, want 1", shutdowns.Load())
	}
	// The token does not lift the cross-site rule for changes.
	req := withAuth("POST", "/api/v1/shutdown", "Bearer "+testToken)
	req.Header.Del(admin.RequestHeader)
	if code, _ := send(t, h, req); code != http.StatusForbidden {
		t.Errorf("POST /api/v1/shutdown with the token but no %s = %d, want 403", admin.RequestHeader, code)
	}
}

func TestWithoutATokenTheHostMustBeLoopback(t *testing.T) {
	h := admin.New(readyEngine(), telemetry.NewRegistry(), nil).Handler()
	if code, _ := send(t, h, withAuth("GET", "/api/v1/status", "Bearer "+testToken)); code != http.StatusForbidden {
		t.Errorf("foreign Host without a configured token = %d, want 403", code)
	}
	if code, _ := send(t, h, withAuth("GET", "/api/v1/status", "")); code != http.StatusForbidden {
		t.Errorf("foreign Host = %d, want 403", code)
	}
}

// With a token the loopback rule no longer applies: an address that is not
// loopback gets as far as the operating system. (192.0.2.1 is TEST-NET-1,
// never assigned to this host, so nothing is bound off loopback.)
func TestListenOffLoopbackWithAToken(t *testing.T) {
	err := admin.New(&fakeEngine{}, nil, nil, admin.WithToken(testToken)).Listen("192.0.2.1:0")
	if err == nil || errors.Is(err, admin.ErrNotLoopback) || !strings.Contains(err.Error(), "listen on 192.0.2.1:0") {
		t.Errorf("Listen(192.0.2.1:0) with a token = %v, want the operating system's refusal", err)
	}
	if err := admin.New(&fakeEngine{}, nil, nil, admin.WithToken("")).Listen("192.0.2.1:0"); !errors.Is(err, admin.ErrNotLoopback) {
		t.Errorf("Listen(192.0.2.1:0) with an empty token = %v, want ErrNotLoopback", err)
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := admin.New(readyEngine(), telemetry.NewRegistry(), nil, admin.WithToken(testToken), admin.WithTLS(certFile, keyFile))
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	defer func() {
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	get := func(url, auth string) (int, string) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	base := "https://" + s.Addr()
	if code, body := get(base+"/api/v1/status", "Bearer "+testToken); code != http.StatusOK || !strings.Contains(body, `"ready": true`) {
		t.Errorf("status over TLS = %d %q", code, body)
	}
	if code, _ := get(base+"/api/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("status over TLS without the token = %d, want 401", code)
	}
	// Plain HTTP to the TLS port is not served.
	plain := &http.Client{Timeout: 10 * time.Second}
	if resp, err := plain.Get("http://" + s.Addr() + "/livez"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP to the TLS port answered 200 %q", b)
		}
	}
}

func TestTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	err := admin.New(&fakeEngine{}, nil, nil, admin.WithTLS(filepath.Join(dir, "none.pem"), filepath.Join(dir, "none.key"))).Listen("127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "engine.http_admin.tls") || !strings.Contains(err.Error(), "none.pem") {
		t.Errorf("Listen with missing certificate files = %v, want an error naming the key and file", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// them with a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ackflow admin test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func readyEngine() *fakeEngine {
	e := &fakeEngine{}
	e.ready.Store(true)
	return e
}
