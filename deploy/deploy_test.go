// Package deploy holds slod's deployment artefacts (Dockerfile, Kubernetes manifests, Grafana
// dashboard, Prometheus alerts on slod itself); its tests check that they are well-formed and agree
// with each other and with the metrics slod exports.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/config"
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
	for _, k := range []string{"Deployment", "ConfigMap", "Secret", "Service", "ServiceMonitor", "PersistentVolumeClaim", "ServiceAccount", "Namespace", "NetworkPolicy"} {
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

// slodContainers returns every slod container of the manifests (the Deployment's and the sidecar
// example's) with the volumes of its pod, by name.
func slodContainers(t *testing.T) (containers []any, names []string, podVolumes []map[string]any) {
	t.Helper()
	for _, m := range loadManifests(t) {
		if str(m.obj, "kind") != "Deployment" {
			continue
		}
		spec := get(m.obj, "spec", "template", "spec")
		volumes := map[string]any{}
		for _, v := range list(spec, "volumes") {
			volumes[str(v, "name")] = v
		}
		for _, c := range list(spec, "containers") {
			if strings.Contains(str(c, "image"), "slod") {
				containers = append(containers, c)
				names = append(names, m.file+": container "+str(c, "name"))
				podVolumes = append(podVolumes, volumes)
			}
		}
	}
	return containers, names, podVolumes
}

func flagValue(c any, name string) (string, bool) {
	for _, a := range list(c, "args") {
		if v, ok := strings.CutPrefix(a.(string), "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestConfigMapsReachSlod: config and rules are mounted as directories (kubelet never updates a
// subPath mount), and slod checks them for changes (--config.auto-reload-interval), since the
// distroless image has no shell to send SIGHUP from and the lifecycle API is off.
func TestConfigMapsReachSlod(t *testing.T) {
	containers, names, podVolumes := slodContainers(t)
	for i, c := range containers {
		configFile, ok := flagValue(c, "config.file")
		if !ok {
			t.Errorf("%s: no --config.file", names[i])
		}
		if v, ok := flagValue(c, "config.auto-reload-interval"); !ok || v == "0s" {
			t.Errorf("%s: no --config.auto-reload-interval: a changed ConfigMap would never be loaded", names[i])
		}
		configMounted := false
		for _, vm := range list(c, "volumeMounts") {
			vol := podVolumes[i][str(vm, "name")]
			if get(vol, "configMap") == nil && get(vol, "secret") == nil {
				continue
			}
			if str(vm, "subPath") != "" {
				t.Errorf("%s: %s is mounted with subPath, which kubelet never updates", names[i], str(vm, "mountPath"))
			}
			if filepath.Dir(configFile) == str(vm, "mountPath") && get(vol, "configMap") != nil {
				configMounted = true
			}
		}
		if !configMounted {
			t.Errorf("%s: --config.file %s is not in a ConfigMap directory mount", names[i], configFile)
		}
	}
}

// TestShippedConfigIsValid parses the ConfigMap's slod.yml as slod does, and requires
// web.external_url, without which every notification links to the pod's hostname.
func TestShippedConfigIsValid(t *testing.T) {
	for _, m := range loadManifests(t) {
		if str(m.obj, "kind") != "ConfigMap" || str(m.obj, "metadata", "name") != "slod-config" {
			continue
		}
		cfg, err := config.Parse("/etc/slod/config/slod.yml", []byte(str(m.obj, "data", "slod.yml")))
		if err != nil {
			t.Fatalf("%s: slod.yml does not load:\n%v", m.file, err)
		}
		if cfg.Web.ExternalURL == "" {
			t.Errorf("%s: slod.yml has no web.external_url: PagerDuty links and Alertmanager generatorURL would name the pod", m.file)
		}
		return
	}
	t.Fatal("no ConfigMap slod-config")
}

// TestDocsShowExternalURL: the README's daemon section shows web.external_url, as the shipped
// ConfigMap has it.
func TestDocsShowExternalURL(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, daemon, ok := strings.Cut(string(readme), "## Running the daemon")
	if !ok {
		t.Fatal("README.md has no \"## Running the daemon\" section")
	}
	daemon, _, _ = strings.Cut(daemon, "\n## ")
	if !regexp.MustCompile(`(?m)^\s*external_url: https?://`).MatchString(daemon) {
		t.Error("the README's daemon section does not show web.external_url")
	}
}

// TestNamespaceIsCreated: the namespace kustomization.yaml puts everything in is one of its
// resources.
func TestNamespaceIsCreated(t *testing.T) {
	var ns string
	created := map[string]bool{}
	for _, m := range loadManifests(t) {
		switch str(m.obj, "kind") {
		case "Kustomization":
			ns = str(m.obj, "namespace")
		case "Namespace":
			created[str(m.obj, "metadata", "name")] = true
		}
	}
	if ns == "" || !created[ns] {
		t.Errorf("kustomization.yaml puts everything in namespace %q, which no manifest creates (%v)", ns, keys(created))
	}
}

// TestServiceMonitorIsSelected: the ServiceMonitor carries the `release` label kube-prometheus-stack
// selects on, and the runbook says how to match another install's selector.
func TestServiceMonitorIsSelected(t *testing.T) {
	for _, m := range loadManifests(t) {
		if str(m.obj, "kind") != "ServiceMonitor" {
			continue
		}
		if str(m.obj, "metadata", "labels", "release") == "" {
			t.Errorf("%s: no release label: a kube-prometheus-stack Prometheus would not select it", m.file)
		}
	}
	runbook, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(runbook), "serviceMonitorSelector") {
		t.Error("docs/runbook.md does not explain the ServiceMonitor's release label (serviceMonitorSelector)")
	}
}

// TestNetworkPolicy: slod's pods admit Prometheus and their own namespace on the HTTP port, and
// nobody else (no rule without a from, which Kubernetes reads as everyone).
func TestNetworkPolicy(t *testing.T) {
	found := false
	for _, m := range loadManifests(t) {
		if str(m.obj, "kind") != "NetworkPolicy" {
			continue
		}
		found = true
		if str(m.obj, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name") != "slod" {
			t.Errorf("%s: does not select slod's pods", m.file)
		}
		types := fmt.Sprint(list(m.obj, "spec", "policyTypes"))
		if !strings.Contains(types, "Ingress") {
			t.Errorf("%s: policyTypes %s lacks Ingress", m.file, types)
		}
		prometheus, namespace := false, false
		for i, r := range list(m.obj, "spec", "ingress") {
			from := list(r, "from")
			if len(from) == 0 {
				t.Errorf("%s: ingress[%d] has no from: it admits everyone", m.file, i)
			}
			for _, p := range list(r, "ports") {
				if port := fmt.Sprint(get(p, "port")); port != "http" && port != "9099" {
					t.Errorf("%s: ingress[%d] opens port %s", m.file, i, port)
				}
			}
			for _, f := range from {
				switch {
				case str(f, "podSelector", "matchLabels", "app.kubernetes.io/name") == "prometheus":
					prometheus = true
				case get(f, "namespaceSelector") == nil && get(f, "podSelector") != nil && len(get(f, "podSelector").(map[string]any)) == 0:
					namespace = true
				}
			}
		}
		if !prometheus || !namespace {
			t.Errorf("%s: admits Prometheus: %v, slod's namespace: %v; want both", m.file, prometheus, namespace)
		}
	}
	if !found {
		t.Error("deploy/kubernetes has no NetworkPolicy")
	}
}

// TestImageTagsAreReleases: every slod image named in the manifests and the runbook is the
// Makefile's IMAGE at one release version, the tag `make image VERSION=vX.Y.Z` builds.
func TestImageTagsAreReleases(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	im := regexp.MustCompile(`(?m)^IMAGE\s*\?=\s*(\S+)$`).FindSubmatch(mk)
	if im == nil {
		t.Fatal("the Makefile sets no IMAGE")
	}
	image := string(im[1])
	if !strings.Contains(string(mk), "-t $(IMAGE):$(VERSION)") {
		t.Error("make image does not tag $(IMAGE):$(VERSION)")
	}
	ref := regexp.MustCompile(`[\w./-]*slod-dev/slod:[\w.-]+`)
	var refs []string
	tags := map[string]bool{}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	files = append(files, "../docs/runbook.md", "../README.md")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ref.FindAllString(string(b), -1) {
			refs = append(refs, f+": "+r)
			tag, ok := strings.CutPrefix(r, image+":")
			if !ok || !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(tag) {
				t.Errorf("%s names image %s, not %s:vX.Y.Z (a release tag)", f, r, image)
			}
			tags[tag] = true
		}
	}
	if len(tags) > 1 {
		t.Errorf("the slod images name %d different tags: %v", len(tags), refs)
	}
	if len(refs) < 3 {
		t.Errorf("found %d slod image references, want the Deployment's, the sidecar's and the runbook's: %v", len(refs), refs)
	}
}
