// Package otlptest helps the OTLP nodes' tests: throwaway TLS material
// (NewCerts), bounded waits on other goroutines (Recv, Wait) and config
// validation cases (RequireConfig). It is for tests only; no production
// code imports it.
package otlptest
