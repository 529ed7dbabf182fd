// Package otlptest helps the OTLP nodes' tests: throwaway TLS material
// (NewCerts) and bounded waits on other goroutines (Recv, Wait). It is for
// tests only; no production code imports it.
package otlptest
