package config

import (
	"errors"
	"fmt"
	"testing"
)

func TestPathString(t *testing.T) {
	base := Path{}.Key("groups").Key("default").Key("pipelines").Key("main").Key("nodes").Key("fan")
	tests := []struct {
		path Path
		want string
	}{
		{Path{}, ""},
		{base, "groups.default.pipelines.main.nodes.fan"},
		{base.Key("config").Key("destinations").Index(1).Key("fallback_for"),
			"groups.default.pipelines.main.nodes.fan.config.destinations[1].fallback_for"},
		{Path{}.Key("nodes").Key("otlp/ingest"), "nodes.otlp/ingest"},
		{Path{}.Key("nodes").Key("a.b").Key("x"), `nodes["a.b"].x`},
		{Path{}.Key("headers").Key(""), `headers[""]`},
		{Path{}.Index(0).Index(2), "[0][2]"},
	}
	for _, tt := range tests {
		if got := tt.path.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestPathsDoNotShareStorage(t *testing.T) {
	base := Path{}.Key("a").Key("b").Key("c")
	x := base.Key("x")
	y := base.Key("y")
	if x.String() != "a.b.c.x" || y.String() != "a.b.c.y" {
		t.Errorf("extending one base twice: %s, %s", x, y)
	}
}

func TestErrorFormat(t *testing.T) {
	p := Path{}.Key("engine").Key("shutdown_timeout")
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "a.yaml", Path: p, Line: 3, Column: 7, Msg: "bad", Hint: "fix it"},
			"a.yaml:3:7: engine.shutdown_timeout: bad (hint: fix it)"},
		{&Error{Path: p, Msg: "bad"}, "<config>: engine.shutdown_timeout: bad"},
		{&Error{File: "a.yaml", Line: 1, Msg: "bad"}, "a.yaml:1: bad"},
		{Errorf(p.Key("x"), "use y", "names no %q", "z"), `<config>: engine.shutdown_timeout.x: names no "z" (hint: use y)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestErrorsFlattensJoinedErrors(t *testing.T) {
	a, b, c := Errorf(Path{}, "", "a"), Errorf(Path{}, "", "b"), Errorf(Path{}, "", "c")
	err := errors.Join(a, fmt.Errorf("wrapped: %w", errors.New("not a config error")), errors.Join(b, c))
	got := Errors(err)
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("Errors = %v", got)
	}
	if !errors.Is(err, ErrInvalidValue) {
		t.Error("Errorf errors should be ErrInvalidValue")
	}
	if Errors(nil) != nil {
		t.Error("Errors(nil) should be empty")
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"log", "logs", 1},
		{"logs", "log", 1},
		{"metrcis", "metrics", 2},
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"traces", "traces", 0},
	} {
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
