package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"200ms", 200 * time.Millisecond},
		{"5s", 5 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{"1m 30s", 90 * time.Second},
		{"1 hour 2 minutes", time.Hour + 2*time.Minute},
		{"2 days", 48 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"300us", 300 * time.Microsecond},
		{"300µs", 300 * time.Microsecond},
		{"10ns", 10},
		{"500 msec", 500 * time.Millisecond},
		{"1.000000001s", time.Second + 1},
		{"0", 0},
		{" 5s ", 5 * time.Second},
		{"-5s", -5 * time.Second},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil || time.Duration(got) != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, time.Duration(got), err, tt.want)
			}
		})
	}
	invalid := []struct {
		in, wantErr string
	}{
		{"5 parsecs", `invalid duration "5 parsecs": unknown unit "parsecs"`},
		{"30", `invalid duration "30": missing unit after 30`},
		{"1.5", "missing unit"},
		{"", "empty"},
		{"abc", `expected a number at "abc"`},
		{"5s 3", "missing unit after 3"},
		{"1 month", `unknown unit "month"`},
		{"5S", `unknown unit "S"`},
		{"9999999999h", "out of range"},
		{"1h-5m", `expected a number at "-5m"`},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.in, func(t *testing.T) {
			_, err := ParseDuration(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) ||
				!strings.Contains(err.Error(), "use a Go duration such as 200ms, 5s or 1h30m") {
				t.Errorf("ParseDuration(%q) error = %v, want it to contain %q and the hint", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("error does not wrap ErrInvalidValue")
			}
		})
	}
}

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{"go syntax", "d: 1h30m", 90 * time.Minute, ""},
		{"humantime", "d: 1m 30s", 90 * time.Second, ""},
		{"integer zero", "d: 0", 0, ""},
		{"null keeps the default", "d: ~", 7 * time.Second, ""},
		{"integer without unit", "d: 30", 0, `<config>:1:4: d: invalid duration "30": missing unit after 30 (hint: use a Go duration such as 200ms, 5s or 1h30m`},
		{"list", "d: [5s]", 0, `<config>:1:4: d: want a duration, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
				t.Fatal(err)
			}
			out := struct {
				D Duration `yaml:"d"`
			}{D: Duration(7 * time.Second)}
			err := DecodeStrict(&n, &out, Path{})
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || time.Duration(out.D) != tt.want {
				t.Errorf("got %v, %v; want %v", out.D, err, tt.want)
			}
		})
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 1500 * time.Millisecond, 90 * time.Minute, 49 * time.Hour} {
		s := Duration(d).String()
		back, err := ParseDuration(s)
		if err != nil || time.Duration(back) != d {
			t.Errorf("%v -> %q -> %v, %v", d, s, time.Duration(back), err)
		}
		out, _ := yaml.Marshal(struct{ D Duration }{Duration(d)})
		if !strings.Contains(string(out), s) {
			t.Errorf("MarshalYAML(%v) = %q, want %q", d, out, s)
		}
	}
}

func TestParseSize(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"10GB", 10_000_000_000},
		{"10GiB", 10 << 30},
		{"256KiB", 256 << 10},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"10gb", 10_000_000_000},
		{"1.5MB", 1_500_000},
		{"0.5KiB", 512},
		{"1024", 1024},
		{"1024B", 1024},
		{"0", 0},
		{"2PiB", 2 << 50},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil || int64(got) != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	invalid := []struct {
		in, wantErr string
	}{
		{"1.0001KB", "not a whole number of bytes"},
		{"1.5", "not a whole number of bytes"},
		{"-1", "sizes cannot be negative"},
		{"10 parsecs", `unknown unit "parsecs"`},
		{"10XB", `unknown unit "XB"`},
		{"10K", `unknown unit "K"`},
		{"abc", "expected a number"},
		{"", "empty"},
		{"100000PiB", "too large"},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.in, func(t *testing.T) {
			_, err := ParseSize(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "such as 1048576, 256KiB") {
				t.Errorf("ParseSize(%q) error = %v, want it to contain %q and the hint", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("error does not wrap ErrInvalidValue")
			}
		})
	}
}

func TestSizeYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    int64
		wantErr string
	}{
		{"plain integer", "s: 4096", 4096, ""},
		{"hex integer", "s: 0x10", 16, ""},
		{"binary unit", "s: 64MiB", 64 << 20, ""},
		{"fraction", "s: 1.5KiB", 1536, ""},
		{"inexact fraction", "s: 1.0001KB", 0, `<config>:1:4: s: invalid size "1.0001KB": not a whole number of bytes (hint: use bytes or a unit`},
		{"negative", "s: -5", 0, `s: invalid size "-5": sizes cannot be negative`},
		{"mapping", "s: {a: 1}", 0, `s: want a size, got a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
				t.Fatal(err)
			}
			var out struct {
				S Size `yaml:"s"`
			}
			err := DecodeStrict(&n, &out, Path{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || int64(out.S) != tt.want {
				t.Errorf("got %d, %v; want %d", out.S, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		size Size
		want string
	}{
		{0, "0B"},
		{64 << 20, "64MiB"},
		{10_000_000_000, "10GB"},
		{1536, "1536B"},
		{1500, "1500B"},
		{1 << 30, "1GiB"},
		{3 << 40, "3TiB"},
	}
	for _, tt := range tests {
		got := tt.size.String()
		if got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.size), got, tt.want)
		}
		back, err := ParseSize(got)
		if err != nil || back != tt.size {
			t.Errorf("%q parses back as %d, %v", got, back, err)
		}
	}
}
