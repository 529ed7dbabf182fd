package otlpgrpc

// Test helpers of the internal tests, for the external ones.
var ZstdFrame = zstdFrame

const (
	Window8MiB = window8MiB
	Window9MiB = window9MiB
)
