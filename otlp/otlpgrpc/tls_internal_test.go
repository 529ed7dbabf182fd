package otlpgrpc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// leaf issues a certificate for dnsName, returned with its key as PEM.
func (ca *testCA) leaf(t *testing.T, dnsName string) (cert *x509.Certificate, certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// fakeSystemRoots makes the system roots the given CA for one test.
func fakeSystemRoots(t *testing.T, ca *testCA) {
	t.Helper()
	old := systemCertPool
	systemCertPool = func() (*x509.CertPool, error) {
		p := x509.NewCertPool()
		p.AddCert(ca.cert)
		return p, nil
	}
	t.Cleanup(func() { systemCertPool = old })
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func verifies(pool *x509.CertPool, cert *x509.Certificate, name string, usage x509.ExtKeyUsage) bool {
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err == nil
}

func TestClientTLSTrust(t *testing.T) {
	private, public := newTestCA(t, "private"), newTestCA(t, "public")
	fakeSystemRoots(t, public)
	privateLeaf, _, _ := private.leaf(t, "gw.internal")
	publicLeaf, _, _ := public.leaf(t, "api.example.com")
	caFile := writeFile(t, "ca.pem", private.pem)
	yes, no := true, false

	for _, tt := range []struct {
		name                  string
		tls                   *ClientTLS
		trustsPrivate, public bool
	}{
		{"ca_file alone replaces the system roots", &ClientTLS{CAFile: caFile}, true, false},
		{"ca_file and include_system_ca_certs_pool: true trusts both", &ClientTLS{CAFile: caFile, IncludeSystemCACertsPool: &yes}, true, true},
		{"ca_pem and include_system_ca_certs_pool: true trusts both", &ClientTLS{CAPEM: private.pem, IncludeSystemCACertsPool: &yes}, true, true},
		{"ca_file and include_system_ca_certs_pool: false", &ClientTLS{CAFile: caFile, IncludeSystemCACertsPool: &no}, true, false},
		{"no CA: the system roots", &ClientTLS{}, false, true},
		{"no CA, include_system_ca_certs_pool: true", &ClientTLS{IncludeSystemCACertsPool: &yes}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.tls.Validate(config.Path{}.Key("tls")); err != nil {
				t.Fatal(err)
			}
			cfg, err := tt.tls.Load()
			if err != nil {
				t.Fatal(err)
			}
			roots := cfg.RootCAs
			if roots == nil { // crypto/tls then uses the system roots
				roots, _ = systemCertPool()
			}
			if got := verifies(roots, privateLeaf, "gw.internal", x509.ExtKeyUsageServerAuth); got != tt.trustsPrivate {
				t.Errorf("trusts the private CA: %v, want %v", got, tt.trustsPrivate)
			}
			if got := verifies(roots, publicLeaf, "api.example.com", x509.ExtKeyUsageServerAuth); got != tt.public {
				t.Errorf("trusts the system roots: %v, want %v", got, tt.public)
			}
		})
	}
}

func TestClientTLSValidate(t *testing.T) {
	no := false
	for _, tt := range []struct {
		name string
		tls  ClientTLS
		want string
	}{
		{"nothing to trust", ClientTLS{IncludeSystemCACertsPool: &no}, "tls.include_system_ca_certs_pool: no CA to trust"},
		{"cert without key", ClientTLS{CertPEM: "x"}, "tls: cert_file and key_file must be set together"},
		{"cert twice", ClientTLS{CertFile: "c", CertPEM: "c", KeyFile: "k"}, "tls.cert_pem: cert_file and cert_pem are both set"},
		{"blank ca_pem", ClientTLS{CAPEM: "  \n"}, "tls.ca_pem: ca_pem is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tls.Validate(config.Path{}.Key("tls"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestClientTLSPEMAndServerName(t *testing.T) {
	ca := newTestCA(t, "ca")
	_, certPEM, keyPEM := ca.leaf(t, "client")
	c := &ClientTLS{CAPEM: ca.pem, CertPEM: certPEM, KeyPEM: keyPEM, ServerNameOverride: "backend.internal"}
	cfg, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "backend.internal" || len(cfg.Certificates) != 1 || cfg.RootCAs == nil {
		t.Errorf("got ServerName %q, %d certificates, roots %v; want the override, the client certificate and the CA",
			cfg.ServerName, len(cfg.Certificates), cfg.RootCAs != nil)
	}
	if _, err := (&ClientTLS{CAPEM: "not a certificate"}).Load(); err == nil || !strings.Contains(err.Error(), "ca_pem holds no PEM certificate") {
		t.Errorf("Load with a bad ca_pem = %v", err)
	}
}

func TestClientTLSPlaintext(t *testing.T) {
	for _, tt := range []struct {
		tls  *ClientTLS
		want bool
	}{
		{nil, true}, {&ClientTLS{Insecure: true}, true}, {&ClientTLS{}, false}, {&ClientTLS{Insecure: true, CAFile: "ca.pem"}, false},
	} {
		if got := tt.tls.Plaintext(); got != tt.want {
			t.Errorf("%+v.Plaintext() = %v, want %v", tt.tls, got, tt.want)
		}
	}
}

func TestServerTLSClientCAs(t *testing.T) {
	private, public := newTestCA(t, "private"), newTestCA(t, "public")
	fakeSystemRoots(t, public)
	_, certPEM, keyPEM := private.leaf(t, "server")
	privateClient, _, _ := private.leaf(t, "client-a")
	publicClient, _, _ := public.leaf(t, "client-b")

	s := &ServerTLS{CertPEM: certPEM, KeyPEM: keyPEM, ClientCAPEM: private.pem, IncludeSystemCACertsPool: true}
	if err := s.Validate(config.Path{}.Key("tls")); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("ClientAuth = %v, want RequireAndVerifyClientCert", cfg.ClientAuth)
	}
	if !verifies(cfg.ClientCAs, privateClient, "", x509.ExtKeyUsageClientAuth) || !verifies(cfg.ClientCAs, publicClient, "", x509.ExtKeyUsageClientAuth) {
		t.Error("client certificates of the client CA and of the system roots should both verify")
	}

	plain, err := (&ServerTLS{CertPEM: certPEM, KeyPEM: keyPEM}).Load()
	if err != nil {
		t.Fatal(err)
	}
	if plain.ClientAuth != tls.NoClientCert || plain.ClientCAs != nil {
		t.Error("without a client CA the server should not ask for client certificates")
	}
}

func TestServerTLSValidate(t *testing.T) {
	err := (&ServerTLS{CertFile: "a", CertPEM: "b"}).Validate(config.Path{}.Key("tls"))
	for _, want := range []string{"tls.cert_pem: cert_file and cert_pem are both set", "tls.key_file: key_file is required when tls is set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
	if _, err := (&ServerTLS{CertFile: filepath.Join(t.TempDir(), "missing.pem"), KeyPEM: "k"}).Load(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load with a missing cert_file = %v, want ErrNotExist", err)
	}
}
