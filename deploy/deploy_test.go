package deploy_test

import (
	"bufio"
	"bytes"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/components"
	"github.com/ackflow/ackflow/config"
)

// gateway is what the tests need to know of a deployed configuration.
type gateway struct {
	doc        *config.Document
	bufferPath string   // the durable buffer's path
	ports      []string // every port the configuration listens on
}

func loadConfig(t *testing.T, name string, data []byte) gateway {
	t.Helper()
	doc, err := config.Load(name, data, components.Registry())
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", name, err)
	}
	g := gateway{doc: doc}
	_, port, _ := net.SplitHostPort(doc.Engine.HTTPAdmin.BindAddress)
	g.ports = append(g.ports, port)
	for _, grp := range doc.Groups {
		for _, p := range grp.Pipelines {
			for _, n := range p.Nodes {
				var raw map[string]any
				if n.Config != nil {
					if err := n.Config.Decode(&raw); err != nil {
						t.Fatal(err)
					}
				}
				switch n.Type {
				case "processor:durable_buffer":
					g.bufferPath, _ = raw["path"].(string)
				case "receiver:otlp":
					protos, _ := raw["protocols"].(map[string]any)
					for _, proto := range protos {
						addr, _ := proto.(map[string]any)["listening_addr"].(string)
						_, port, err := net.SplitHostPort(addr)
						if err != nil {
							t.Fatalf("%s: listening_addr %q: %v", name, addr, err)
						}
						g.ports = append(g.ports, port)
					}
				}
			}
		}
	}
	if g.bufferPath == "" {
		t.Fatalf("%s: no durable buffer path", name)
	}
	slices.Sort(g.ports)
	return g
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unit is a systemd unit file: section → key → values (keys may repeat).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, data []byte) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %d: %q is neither a section nor key=value", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	vs := u[section][key]
	if len(vs) != 1 {
		t.Fatalf("[%s] %s: %d values, want 1", section, key, len(vs))
	}
	return vs[0]
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, readFile(t, "systemd/ackflow.service"))
	g := loadConfig(t, "systemd/ackflow.yaml", readFile(t, "systemd/ackflow.yaml"))
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("no [%s] section", s)
		}
	}
	for key, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "CapabilityBoundingSet": "", "RestartPreventExitStatus": "3", "KillSignal": "SIGTERM",
	} {
		if got := u.one(t, "Service", key); got != want {
			t.Errorf("[Service] %s=%s, want %s", key, got, want)
		}
	}
	exec := u.one(t, "Service", "ExecStart")
	if !strings.HasPrefix(exec, "/usr/local/bin/ackflow run --config /etc/ackflow/config.yaml") {
		t.Errorf("ExecStart=%s does not run the installed configuration", exec)
	}
	// The buffer lives in the state directory, the only writable place.
	state := "/var/lib/" + u.one(t, "Service", "StateDirectory")
	if !strings.HasPrefix(g.bufferPath, state+"/") {
		t.Errorf("durable buffer path %s is outside StateDirectory %s (ProtectSystem=strict makes the rest read-only)", g.bufferPath, state)
	}
	// The token comes from LoadCredential, where the configuration looks.
	name, _, ok := strings.Cut(u.one(t, "Service", "LoadCredential"), ":")
	if !ok || g.doc.Engine.HTTPAdmin.AuthTokenFile != "/run/credentials/ackflow.service/"+name {
		t.Errorf("auth_token_file %q is not the credential %q", g.doc.Engine.HTTPAdmin.AuthTokenFile, name)
	}
	stop, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatal(err)
	}
	if stop <= time.Duration(g.doc.Engine.ShutdownTimeout) {
		t.Errorf("TimeoutStopSec %s is not longer than engine.shutdown_timeout %s: the drain would be killed", stop, g.doc.Engine.ShutdownTimeout)
	}
}

// instruction is one Containerfile instruction with its continuation lines
// joined.
type instruction struct{ cmd, args string }

func parseContainerfile(t *testing.T, data []byte) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

func TestContainerfile(t *testing.T) {
	ins := parseContainerfile(t, readFile(t, "container/Containerfile"))
	g := loadConfig(t, "container/ackflow.yaml", readFile(t, "container/ackflow.yaml"))
	last := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	final := ins[last:]
	args := func(cmd string) []string {
		var out []string
		for _, in := range final {
			if in.cmd == cmd {
				out = append(out, in.args)
			}
		}
		return out
	}
	if !slices.Contains([]string{"scratch", "gcr.io/distroless/static-debian12:nonroot"}, final[0].args) {
		t.Errorf("final stage FROM %s: want an image with nothing but the static binary", final[0].args)
	}
	users := args("USER")
	if len(users) != 1 {
		t.Fatalf("final stage has %d USER instructions, want 1", len(users))
	}
	uid, _, _ := strings.Cut(users[0], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root user (Kubernetes runAsNonRoot checks the number)", users[0])
	}
	var static bool
	for _, in := range ins[:last] {
		if in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "./cmd/ackflow") {
			static = true
		}
	}
	if !static {
		t.Error("the build stage does not build ./cmd/ackflow with CGO_ENABLED=0 (a scratch image needs a static binary)")
	}
	exposed := strings.Fields(strings.Join(args("EXPOSE"), " "))
	for _, p := range g.ports {
		if !slices.Contains(exposed, p) {
			t.Errorf("the configuration listens on port %s, which EXPOSE (%v) does not list", p, exposed)
		}
	}
	if vols := strings.Join(args("VOLUME"), " "); !strings.Contains(vols, path.Dir(g.bufferPath)) {
		t.Errorf("VOLUME %s does not hold the durable buffer %s", vols, g.bufferPath)
	}
	if ep := args("ENTRYPOINT"); len(ep) != 1 || !strings.HasPrefix(ep[0], "[") {
		t.Errorf("ENTRYPOINT %v: want the exec form, so that SIGTERM reaches ackflow", ep)
	}
	if cmd := strings.Join(args("CMD"), " "); !strings.Contains(cmd, `"/etc/ackflow/config.yaml"`) {
		t.Errorf("CMD %s does not run /etc/ackflow/config.yaml", cmd)
	}
}

func TestKubernetesManifest(t *testing.T) {
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, "kubernetes/ackflow.yaml")))
	objs := map[string]map[string]any{}
	for {
		var o map[string]any
		if err := dec.Decode(&o); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatal(err)
		}
		kind, _ := o["kind"].(string)
		if kind == "" || o["apiVersion"] == nil || o["metadata"] == nil {
			t.Fatalf("object without kind, apiVersion or metadata: %v", o)
		}
		objs[kind] = o
	}
	for _, k := range []string{"ConfigMap", "Service", "StatefulSet"} {
		if objs[k] == nil {
			t.Fatalf("no %s in the manifest", k)
		}
	}
	cfgText, _ := get(objs["ConfigMap"], "data", "config.yaml").(string)
	g := loadConfig(t, "ConfigMap ackflow data.config.yaml", []byte(cfgText))
	// The ConfigMap carries the container's configuration.
	c := loadConfig(t, "container/ackflow.yaml", readFile(t, "container/ackflow.yaml"))
	ge, ce := g.doc.Engine, c.doc.Engine
	if ge.HTTPAdmin.BindAddress != ce.HTTPAdmin.BindAddress || ge.HTTPAdmin.AuthTokenFile != ce.HTTPAdmin.AuthTokenFile ||
		ge.ShutdownTimeout != ce.ShutdownTimeout || ge.MemoryLimit != ce.MemoryLimit ||
		g.bufferPath != c.bufferPath || !slices.Equal(g.ports, c.ports) {
		t.Errorf("the ConfigMap's configuration differs from container/ackflow.yaml: engine %+v vs %+v", ge, ce)
	}

	spec := get(objs["StatefulSet"], "spec", "template", "spec").(map[string]any)
	grace, _ := spec["terminationGracePeriodSeconds"].(int)
	if time.Duration(grace)*time.Second <= time.Duration(g.doc.Engine.ShutdownTimeout) {
		t.Errorf("terminationGracePeriodSeconds %d is not longer than engine.shutdown_timeout %s", grace, g.doc.Engine.ShutdownTimeout)
	}
	if get(spec, "securityContext", "runAsNonRoot") != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	ctr := spec["containers"].([]any)[0].(map[string]any)
	named := map[string]string{}
	for _, p := range ctr["ports"].([]any) {
		pm := p.(map[string]any)
		named[pm["name"].(string)] = strconv.Itoa(pm["containerPort"].(int))
	}
	_, adminPort, _ := net.SplitHostPort(g.doc.Engine.HTTPAdmin.BindAddress)
	for probe, want := range map[string]string{"livenessProbe": "/livez", "readinessProbe": "/readyz"} {
		p, _ := get(ctr, probe, "httpGet", "path").(string)
		port, _ := get(ctr, probe, "httpGet", "port").(string)
		if p != want || named[port] != adminPort {
			t.Errorf("%s: GET %s on port %s (%s), want %s on the admin port %s", probe, p, port, named[port], want, adminPort)
		}
	}
	for _, p := range g.ports {
		if !slices.Contains(slices.Collect(maps.Values(named)), p) {
			t.Errorf("the configuration listens on %s, which no containerPort lists", p)
		}
	}
	mounts := map[string]string{}
	for _, m := range ctr["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		mounts[mm["name"].(string)] = mm["mountPath"].(string)
	}
	if tok := mounts["admin-token"] + "/token"; tok != g.doc.Engine.HTTPAdmin.AuthTokenFile {
		t.Errorf("the token secret is mounted at %s, the configuration reads %s", tok, g.doc.Engine.HTTPAdmin.AuthTokenFile)
	}
	if !strings.HasPrefix(g.bufferPath, mounts["buffer"]+"/") {
		t.Errorf("durable buffer path %s is not on the buffer volume %s", g.bufferPath, mounts["buffer"])
	}
	if mounts["config"] != "/etc/ackflow/config.yaml" || !slices.Contains(toStrings(ctr["args"]), "/etc/ackflow/config.yaml") {
		t.Errorf("config mounted at %s, args %v", mounts["config"], ctr["args"])
	}
	if get(ctr, "securityContext", "readOnlyRootFilesystem") != true || get(ctr, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("container securityContext must make the root file system read-only and forbid privilege escalation")
	}
}

func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// systemd's own checker, where the machine has it: no complaint but the
// binary's absence (it is not installed where the tests run).
func TestSystemdAnalyzeVerify(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; TestSystemdUnit still checks the unit's keys")
	}
	out, _ := exec.Command(bin, "verify", "systemd/ackflow.service").CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, "/usr/local/bin/ackflow is not executable") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	out, err = exec.Command(bin, "security", "--offline=yes", "--threshold=20", "systemd/ackflow.service").CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security rates the unit's exposure above 2.0 (or failed): %v\n%s", err, out)
	}
}
