package otlpgrpc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ackflow/ackflow/config"
)

// ServerTLS is a server's `tls` block. With ClientCAFile (or ClientCAPEM,
// or IncludeSystemCACertsPool) set, clients must present a certificate
// signed by one of those CAs (mTLS).
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CertPEM and KeyPEM give the certificate and key in the document
	// instead of files (the reference engine's cert_pem and key_pem).
	CertPEM string `yaml:"cert_pem"`
	KeyPEM  string `yaml:"key_pem"`
	// ClientCAFile and ClientCAPEM hold the CAs that sign client
	// certificates; both may be given.
	ClientCAFile string `yaml:"client_ca_file"`
	ClientCAPEM  string `yaml:"client_ca_pem"`
	// IncludeSystemCACertsPool also trusts the system roots for client
	// certificates (and asks clients for one even without a client CA).
	IncludeSystemCACertsPool bool `yaml:"include_system_ca_certs_pool"`

	ReloadInterval   any `yaml:"reload_interval" ackflow:"ignored,not taken: ackflow reads the certificate and key at start-up; restart it to rotate them"`
	WatchClientCA    any `yaml:"watch_client_ca" ackflow:"ignored,not taken: ackflow reads the client CAs at start-up; restart it to change them"`
	HandshakeTimeout any `yaml:"handshake_timeout" ackflow:"ignored,not needed: ackflow bounds every connection's TLS handshake itself"`
}

// Validate checks the block without reading the files (Validate stays pure;
// Load reports unreadable files when the node is built).
func (t *ServerTLS) Validate(p config.Path) error {
	if t == nil {
		return nil
	}
	errs := []error{
		onePEMSource(p, "cert_file", t.CertFile, "cert_pem", t.CertPEM, "the PEM certificate the server presents"),
		onePEMSource(p, "key_file", t.KeyFile, "key_pem", t.KeyPEM, "the PEM private key of the certificate"),
		notBlank(p, "client_ca_pem", t.ClientCAPEM),
	}
	return errors.Join(errs...)
}

// Load reads the files and returns the server's TLS configuration (TLS 1.2
// or later).
func (t *ServerTLS) Load() (*tls.Config, error) {
	cert, err := keyPair(t.CertFile, t.CertPEM, t.KeyFile, t.KeyPEM)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	pool, err := trust(t.ClientCAFile, t.ClientCAPEM, t.IncludeSystemCACertsPool, "client_ca_file", "client_ca_pem")
	if err != nil {
		return nil, err
	}
	if pool != nil {
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS is a client's `tls` block. An https:// endpoint without one
// verifies the server against the system roots.
type ClientTLS struct {
	// CAFile and CAPEM are the CAs that sign the server's certificate,
	// from a PEM file or given in the document; both may be set. With
	// either, the system roots are not trusted unless
	// IncludeSystemCACertsPool says so.
	CAFile string `yaml:"ca_file"`
	CAPEM  string `yaml:"ca_pem"`
	// IncludeSystemCACertsPool trusts the system roots in addition to
	// CAFile and CAPEM. Unset: the system roots are trusted only when no
	// CA is given (the Collector's default; the reference engine trusts
	// them unless told not to). False without a CA leaves nothing to
	// trust, which Validate refuses.
	IncludeSystemCACertsPool *bool `yaml:"include_system_ca_certs_pool"`
	// CertFile and KeyFile (or CertPEM and KeyPEM) are the client
	// certificate, for mTLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CertPEM  string `yaml:"cert_pem"`
	KeyPEM   string `yaml:"key_pem"`
	// ServerNameOverride is the name the server's certificate must carry
	// (and the SNI sent) instead of the endpoint's host: for endpoints
	// given by IP address or through a tunnel.
	ServerNameOverride string `yaml:"server_name_override"`
	// Insecure, without a CA, makes the block say nothing: the endpoint's
	// scheme decides (http:// is plaintext, https:// verifies against the
	// system roots), as in the Collector and the reference engine.
	Insecure bool `yaml:"insecure"`
	// InsecureSkipVerify accepts any server certificate: tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`

	ReloadInterval any `yaml:"reload_interval" ackflow:"ignored,not taken: ackflow reads the client certificate and key at start-up; restart it to rotate them"`
}

// Validate checks that the client certificate and key come together, that
// each comes from one source, and that something is trusted.
func (t *ClientTLS) Validate(p config.Path) error {
	if t == nil {
		return nil
	}
	var errs []error
	hasCert, hasKey := t.CertFile != "" || t.CertPEM != "", t.KeyFile != "" || t.KeyPEM != ""
	if hasCert != hasKey {
		errs = append(errs, config.Errorf(p, "set both cert_file and key_file (or cert_pem and key_pem) for a client certificate, or neither",
			"cert_file and key_file must be set together"))
	}
	if t.CertFile != "" && t.CertPEM != "" {
		errs = append(errs, config.Errorf(p.Key("cert_pem"), "keep one of cert_file and cert_pem", "cert_file and cert_pem are both set"))
	}
	if t.KeyFile != "" && t.KeyPEM != "" {
		errs = append(errs, config.Errorf(p.Key("key_pem"), "keep one of key_file and key_pem", "key_file and key_pem are both set"))
	}
	errs = append(errs, notBlank(p, "ca_pem", t.CAPEM))
	if f := t.IncludeSystemCACertsPool; f != nil && !*f && t.CAFile == "" && t.CAPEM == "" {
		errs = append(errs, config.Errorf(p.Key("include_system_ca_certs_pool"),
			"set ca_file (or ca_pem) with the CA of the server, or trust the system roots: remove include_system_ca_certs_pool: false",
			"no CA to trust: include_system_ca_certs_pool is false and no ca_file or ca_pem is set"))
	}
	return errors.Join(errs...)
}

// Plaintext reports whether the block asks for nothing: nil, or insecure
// without a CA, so that the endpoint's scheme decides alone.
func (t *ClientTLS) Plaintext() bool {
	return t == nil || t.Insecure && t.CAFile == "" && t.CAPEM == ""
}

// Load reads the files and returns the client's TLS configuration. A nil
// block gives the default: system roots, TLS 1.2 or later.
func (t *ClientTLS) Load() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t == nil {
		return cfg, nil
	}
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	cfg.ServerName = t.ServerNameOverride
	custom := t.CAFile != "" || t.CAPEM != ""
	system := !custom // the default: the system roots when no CA is given
	if t.IncludeSystemCACertsPool != nil {
		system = *t.IncludeSystemCACertsPool
	}
	if custom {
		pool, err := trust(t.CAFile, t.CAPEM, system, "ca_file", "ca_pem")
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool // nil RootCAs would mean the system roots
	}
	if t.CertFile != "" || t.CertPEM != "" {
		cert, err := keyPair(t.CertFile, t.CertPEM, t.KeyFile, t.KeyPEM)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// systemCertPool is x509.SystemCertPool, replaced in tests.
var systemCertPool = x509.SystemCertPool

// trust returns the pool of CAs from file and pem (either may be empty),
// plus the system roots when system is set; nil when there is nothing.
// fileKey and pemKey name the keys in errors.
func trust(file, pem string, system bool, fileKey, pemKey string) (*x509.CertPool, error) {
	if file == "" && pem == "" && !system {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if system {
		sys, err := systemCertPool()
		if err != nil {
			return nil, fmt.Errorf("tls: include_system_ca_certs_pool: %w", err)
		}
		pool = sys // a copy: SystemCertPool returns one per call
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("tls: %s: %w", fileKey, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("tls: %s: %s holds no PEM certificate", fileKey, file)
		}
	}
	if pem != "" && !pool.AppendCertsFromPEM([]byte(pem)) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", pemKey)
	}
	return pool, nil
}

// keyPair loads a certificate and its key, each from a file or PEM text.
func keyPair(certFile, certPEM, keyFile, keyPEM string) (tls.Certificate, error) {
	certBytes, keyBytes := []byte(certPEM), []byte(keyPEM)
	var err error
	if certFile != "" {
		if certBytes, err = os.ReadFile(certFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: cert_file: %w", err)
		}
	}
	if keyFile != "" {
		if keyBytes, err = os.ReadFile(keyFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: key_file: %w", err)
		}
	}
	cert, err := tls.X509KeyPair(certBytes, keyBytes)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: load certificate (%s) and key (%s): %w",
			source(certFile, "cert_pem"), source(keyFile, "key_pem"), err)
	}
	return cert, nil
}

// source names where a PEM came from, for errors.
func source(file, pemKey string) string {
	if file != "" {
		return fmt.Sprintf("%q", file)
	}
	return pemKey
}

// onePEMSource requires exactly one of a file key and its PEM key.
func onePEMSource(p config.Path, fileKey, file, pemKey, pem, what string) error {
	switch {
	case file == "" && pem == "":
		return config.Errorf(p.Key(fileKey), fmt.Sprintf("name %s (or give it in %s)", what, pemKey),
			"%s is required when tls is set", fileKey)
	case file != "" && pem != "":
		return config.Errorf(p.Key(pemKey), fmt.Sprintf("keep one of %s and %s", fileKey, pemKey),
			"%s and %s are both set", fileKey, pemKey)
	}
	return nil
}

// notBlank refuses a PEM key set to white space only.
func notBlank(p config.Path, key, v string) error {
	if v != "" && strings.TrimSpace(v) == "" {
		return config.Errorf(p.Key(key), "paste the PEM block, or remove the key", "%s is empty", key)
	}
	return nil
}
