package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Off the local host, the admin API needs a token.
func TestBindAddressOffLoopbackNeedsAToken(t *testing.T) {
	doc := func(admin string) string {
		return fmt.Sprintf("engine: { http_admin: { %s } }\n", admin) + pipe(basicNodes, basicConns)
	}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.2:0", "localhost:8080", "LocalHost:1", "[::1]:0"} {
		t.Run("accepts "+addr, func(t *testing.T) {
			d, err := Parse("test.yaml", []byte(doc("bind_address: '"+addr+"'")))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Engine.HTTPAdmin.BindAddress; got != addr {
				t.Errorf("bind address %q, want %q", got, addr)
			}
			if d.Engine.HTTPAdmin.Protected() || d.Engine.HTTPAdmin.PProf {
				t.Errorf("defaults: protected %v pprof %v, want neither", d.Engine.HTTPAdmin.Protected(), d.Engine.HTTPAdmin.PProf)
			}
		})
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.10:8080", "admin.example.com:8080"} {
		t.Run("refuses "+addr, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(doc("bind_address: '"+addr+"'")))
			requireError(t, err, errorCase{
				wantErr: fmt.Sprintf(`test.yaml:1:39: engine.http_admin.bind_address: bind_address %q is not a loopback address, `+
					"and the admin API (shutdown, status, metrics) is served off the local host only with an auth token", addr),
				hint:  "set engine.http_admin.auth_token_file (or auth_token)",
				class: ErrInvalidValue,
			})
		})
		t.Run("accepts with a token "+addr, func(t *testing.T) {
			d, err := Parse("test.yaml", []byte(doc("bind_address: '"+addr+"', auth_token: ' s3cret '")))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Engine.HTTPAdmin.BindAddress; got != addr {
				t.Errorf("bind address %q, want %q", got, addr)
			}
			if tok, err := d.Engine.HTTPAdmin.Token(); err != nil || tok != "s3cret" {
				t.Errorf("Token() = %q, %v; want s3cret", tok, err)
			}
		})
	}
}

func TestAdminKeys(t *testing.T) {
	doc := func(admin string) string {
		return fmt.Sprintf("engine: { http_admin: { %s } }\n", admin) + pipe(basicNodes, basicConns)
	}
	d, err := Parse("test.yaml", []byte(doc("pprof: true, tls: { cert_file: c.pem, key_file: k.pem }, auth_token_file: /run/tok")))
	if err != nil {
		t.Fatal(err)
	}
	h := d.Engine.HTTPAdmin
	if !h.PProf || h.TLS == nil || h.TLS.CertFile != "c.pem" || h.TLS.KeyFile != "k.pem" || h.AuthTokenFile != "/run/tok" || !h.Protected() {
		t.Errorf("http_admin = %+v (tls %+v)", h, h.TLS)
	}
	for _, c := range []struct{ admin, want string }{
		{"auth_token: x, auth_token_file: y", "auth_token and auth_token_file are both set"},
		{"auth_token: '  '", "auth_token is empty"},
		{"auth_token_file: ''", "auth_token_file is empty"},
		{"tls: { cert_file: c.pem }", "tls needs both cert_file and key_file"},
		{"pprof: yes-please", "pprof"},
		{"token: x", `unknown`},
	} {
		_, err := Parse("test.yaml", []byte(doc(c.admin)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.admin, err, c.want)
		}
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	if err := os.WriteFile(good, []byte("  abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := (HTTPAdmin{AuthTokenFile: good}).Token(); err != nil || tok != "abc123" {
		t.Errorf("Token() = %q, %v; want abc123", tok, err)
	}
	for _, f := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := (HTTPAdmin{AuthTokenFile: f}).Token(); err == nil || !strings.Contains(err.Error(), "engine.http_admin.auth_token_file") {
			t.Errorf("%s: error %v, want one naming the key", f, err)
		}
	}
	if tok, err := (HTTPAdmin{}).Token(); err != nil || tok != "" {
		t.Errorf("no token: %q, %v", tok, err)
	}
}
