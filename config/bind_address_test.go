package config

import (
	"fmt"
	"testing"
)

// The admin API has no authentication yet: only loopback binds are valid.
func TestBindAddressMustBeLoopback(t *testing.T) {
	doc := func(addr string) string {
		return fmt.Sprintf("engine: { http_admin: { bind_address: '%s' } }\n", addr) + pipe(basicNodes, basicConns)
	}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.2:0", "localhost:8080", "LocalHost:1", "[::1]:0"} {
		t.Run("accepts "+addr, func(t *testing.T) {
			d, err := Parse("test.yaml", []byte(doc(addr)))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Engine.HTTPAdmin.BindAddress; got != addr {
				t.Errorf("bind address %q, want %q", got, addr)
			}
		})
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.10:8080", "admin.example.com:8080"} {
		t.Run("refuses "+addr, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(doc(addr)))
			requireError(t, err, errorCase{
				wantErr: fmt.Sprintf(`test.yaml:1:39: engine.http_admin.bind_address: bind_address %q is not a loopback address, `+
					"and only loopback binds are allowed in this build: the admin API (shutdown, pprof) has no authentication yet", addr),
				hint:  "bind to 127.0.0.1:PORT, [::1]:PORT or localhost:PORT",
				class: ErrInvalidValue,
			})
		})
	}
}
