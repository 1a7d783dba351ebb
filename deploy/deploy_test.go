// Package deploy holds slod's deployment artefacts (Dockerfile, Kubernetes manifests, Grafana
// dashboard, Prometheus alerts on slod itself); its tests check that they are well-formed and agree
// with each other and with the metrics slod exports.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// manifest is one YAML document of deploy/kubernetes, decoded loosely: these are Kubernetes
// objects, not slod's own config, so the test checks the fields that matter instead of a schema.
type manifest struct {
	file string
	obj  map[string]any
}

func loadManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: invalid YAML: %v", f, err)
			}
			if obj == nil {
				continue
			}
			out = append(out, manifest{file: f, obj: obj})
		}
	}
	return out
}

// get walks a decoded YAML tree: keys for maps, "[i]"-free paths only (lists are handled by callers).
func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

func TestManifestsHaveRequiredFields(t *testing.T) {
	kinds := map[string]int{}
	for _, m := range loadManifests(t) {
		kind := str(m.obj, "kind")
		if kind == "Kustomization" {
			for _, r := range list(m.obj, "resources") {
				if _, err := os.Stat(filepath.Join("kubernetes", r.(string))); err != nil {
					t.Errorf("%s: resource %v: %v", m.file, r, err)
				}
			}
			continue
		}
		kinds[kind]++
		if str(m.obj, "apiVersion") == "" || kind == "" || str(m.obj, "metadata", "name") == "" {
			t.Errorf("%s: a %q object lacks apiVersion, kind or metadata.name", m.file, kind)
		}
	}
	for _, k := range []string{"Deployment", "ConfigMap", "Secret", "Service", "ServiceMonitor", "PersistentVolumeClaim", "ServiceAccount"} {
		if kinds[k] == 0 {
			t.Errorf("deploy/kubernetes has no %s", k)
		}
	}
}

// TestSlodContainersAreHardened checks every slod container, in the Deployment and in the sidecar
// example: probes on slod's endpoints, a read-only root, no privilege escalation, resources, and the
// state directory on a persistent volume.
func TestSlodContainersAreHardened(t *testing.T) {
	found := 0
	for _, m := range loadManifests(t) {
		if str(m.obj, "kind") != "Deployment" {
			continue
		}
		spec := get(m.obj, "spec", "template", "spec")
		volumes := map[string]any{}
		for _, v := range list(spec, "volumes") {
			volumes[str(v, "name")] = v
		}
		podNonRoot, _ := get(spec, "securityContext", "runAsNonRoot").(bool)
		for _, c := range list(spec, "containers") {
			if !strings.Contains(str(c, "image"), "slod") {
				continue
			}
			found++
			name := m.file + ": container " + str(c, "name")
			if p := str(c, "livenessProbe", "httpGet", "path"); p != "/-/healthy" {
				t.Errorf("%s: liveness probe path %q, want /-/healthy", name, p)
			}
			if p := str(c, "readinessProbe", "httpGet", "path"); p != "/-/ready" {
				t.Errorf("%s: readiness probe path %q, want /-/ready", name, p)
			}
			if ro, _ := get(c, "securityContext", "readOnlyRootFilesystem").(bool); !ro {
				t.Errorf("%s: root filesystem is not read-only", name)
			}
			if esc, ok := get(c, "securityContext", "allowPrivilegeEscalation").(bool); !ok || esc {
				t.Errorf("%s: allowPrivilegeEscalation must be false", name)
			}
			if !podNonRoot {
				t.Errorf("%s: pod securityContext.runAsNonRoot is not true", name)
			}
			if get(c, "resources", "requests") == nil || get(c, "resources", "limits", "memory") == nil {
				t.Errorf("%s: resources.requests and a memory limit are required", name)
			}
			storage := ""
			for _, a := range list(c, "args") {
				if s, ok := strings.CutPrefix(a.(string), "--storage.path="); ok {
					storage = s
				}
			}
			if storage == "" {
				t.Errorf("%s: no --storage.path", name)
				continue
			}
			onPVC := false
			for _, vm := range list(c, "volumeMounts") {
				if str(vm, "mountPath") == storage && get(volumes[str(vm, "name")], "persistentVolumeClaim") != nil {
					onPVC = true
				}
			}
			if !onPVC {
				t.Errorf("%s: --storage.path %s is not on a PersistentVolumeClaim: state would not survive the pod", name, storage)
			}
			// `slod backup -o -` (kubectl exec) verifies the snapshot in a temporary file first.
			tmp := false
			for _, vm := range list(c, "volumeMounts") {
				if str(vm, "mountPath") == "/tmp" && get(volumes[str(vm, "name")], "emptyDir") != nil {
					tmp = true
				}
			}
			if !tmp {
				t.Errorf("%s: no writable /tmp (emptyDir) under the read-only root: slod backup -o - would fail", name)
			}
		}
	}
	if found < 2 {
		t.Errorf("found %d slod containers, want the Deployment's and the sidecar example's", found)
	}
}

// TestConfigPointsAtMountedFiles checks that the ConfigMap's slod.yml reads the routing key and the
// rules from where the Deployment mounts them.
func TestConfigPointsAtMountedFiles(t *testing.T) {
	var cfg string
	mounts := map[string]bool{}
	for _, m := range loadManifests(t) {
		if str(m.obj, "kind") == "ConfigMap" && str(m.obj, "metadata", "name") == "slod-config" {
			cfg = str(m.obj, "data", "slod.yml")
		}
		if str(m.obj, "kind") == "Deployment" && str(m.obj, "metadata", "name") == "slod" {
			for _, c := range list(get(m.obj, "spec", "template", "spec"), "containers") {
				for _, vm := range list(c, "volumeMounts") {
					mounts[str(vm, "mountPath")] = true
				}
			}
		}
	}
	if cfg == "" {
		t.Fatal("no slod.yml in ConfigMap slod-config")
	}
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`routing_key_file:\s*(\S+)`), regexp.MustCompile(`rules:\s*\[(\S+?)\]`)} {
		m := re.FindStringSubmatch(cfg)
		if m == nil {
			t.Errorf("slod.yml has no match for %s", re)
			continue
		}
		dir := strings.TrimSuffix(m[1], "/")
		if !mounts[dir] && !mounts[filepath.Dir(dir)] {
			t.Errorf("slod.yml reads %s but the Deployment mounts only %v", m[1], keys(mounts))
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// documentedMetrics reads the metrics table of docs/DESIGN.md §7, the list that the daemon's
// tests hold its registry to.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../docs/DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(slod_[a-z_]+)` \\|").FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = true
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metrics in docs/DESIGN.md §7", len(out))
	}
	return out
}

var metricRef = regexp.MustCompile(`\bslod_[a-z_]+`)

// checkMetricNames fails for every slod_ metric in text that slod does not export.
func checkMetricNames(t *testing.T, where, text string, known map[string]bool) int {
	t.Helper()
	n := 0
	for _, name := range metricRef.FindAllString(text, -1) {
		n++
		base := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && known[b] {
				base = b
			}
		}
		if !known[base] {
			t.Errorf("%s uses %s, which slod does not export (docs/DESIGN.md §7)", where, name)
		}
	}
	return n
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("grafana/slod.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("grafana/slod.json: %v", err)
	}
	known := documentedMetrics(t)
	refs := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			refs += checkMetricNames(t, "panel "+p.Title, tg.Expr, known)
		}
	}
	for _, want := range []string{"slod_slo_error_budget_remaining", "slod_slo_burn_rate", "slod_alert_state", "slod_evaluation_cycle_duration_seconds", "slod_notifications_total"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	if refs == 0 {
		t.Error("the dashboard queries no slod metric")
	}
}

func TestAlertRulesUseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("prometheus/slod-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatal(err)
	}
	known := documentedMetrics(t)
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			checkMetricNames(t, "alert "+r.Alert, r.Expr, known)
		}
	}
	// The runbook has a section for every alert it links to.
	runbook, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	for a := range alerts {
		if !strings.Contains(string(runbook), "### "+a) {
			t.Errorf("docs/runbook.md has no section \"### %s\" for the alert's runbook_url", a)
		}
	}
}

// promtool runs the Prometheus tooling on the alert rules: syntax, and the unit tests beside them.
func TestAlertRulesWithPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("promtool not installed (Debian package prometheus); CI installs it")
		}
		t.Fatal("promtool not found, and CI is set: .ci/run must install prometheus")
	}
	for _, args := range [][]string{
		{"check", "rules", "slod-alerts.yaml"},
		{"test", "rules", "slod-alerts_test.yaml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
