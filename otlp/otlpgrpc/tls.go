package otlpgrpc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/ackflow/ackflow/config"
)

// ServerTLS is a server's `tls` block. With ClientCAFile set, clients must
// present a certificate signed by one of its CAs (mTLS).
type ServerTLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// Validate checks the block without reading the files (Validate stays pure;
// Load reports unreadable files when the node is built).
func (t *ServerTLS) Validate(p config.Path) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.CertFile == "" {
		errs = append(errs, config.Errorf(p.Key("cert_file"), "name the PEM certificate the server presents",
			"cert_file is required when tls is set"))
	}
	if t.KeyFile == "" {
		errs = append(errs, config.Errorf(p.Key("key_file"), "name the PEM private key of cert_file",
			"key_file is required when tls is set"))
	}
	return errors.Join(errs...)
}

// Load reads the files and returns the server's TLS configuration (TLS 1.2
// or later).
func (t *ServerTLS) Load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load cert_file %q and key_file %q: %w", t.CertFile, t.KeyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pool, err := loadPool(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client_ca_file: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS is a client's `tls` block. An https:// endpoint without one
// verifies the server against the system roots.
type ClientTLS struct {
	// CAFile replaces the system roots with the CAs in this PEM file.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate, for mTLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify accepts any server certificate: tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Validate checks that cert_file and key_file come together.
func (t *ClientTLS) Validate(p config.Path) error {
	if t == nil {
		return nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return config.Errorf(p, "set both cert_file and key_file for a client certificate, or neither",
			"cert_file and key_file must be set together")
	}
	return nil
}

// Load reads the files and returns the client's TLS configuration. A nil
// block gives the default: system roots, TLS 1.2 or later.
func (t *ClientTLS) Load() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t == nil {
		return cfg, nil
	}
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	if t.CAFile != "" {
		pool, err := loadPool(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: ca_file: %w", err)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load cert_file %q and key_file %q: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
