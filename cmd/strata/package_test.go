package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strata-oss/strata/pipeline/config"
)

// manifestDocs decodes every document of every resource the
// kustomization lists, generically.
func manifestDocs(t *testing.T, dir string) (kust map[string]any, docs []map[string]any) {
	t.Helper()
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &kust)
	for _, r := range kust["resources"].([]any) {
		data, err := os.ReadFile(filepath.Join(dir, r.(string)))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			docs = append(docs, d)
		}
	}
	return kust, docs
}

// dig follows a path of map keys and list indexes through decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestKubernetesServeAndPackaging: the kustomization runs strata serve as
// a Deployment behind a Service, reachable (0.0.0.0), probed on /healthz
// and /readyz, scraped by Prometheus; applies no Secret (it would
// overwrite the real one with placeholders); pins every image to one
// version; and serve's config hashes as the CronJobs' does. With kubectl
// installed, kubectl kustomize builds it.
func TestKubernetesServeAndPackaging(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "kubernetes")
	kust, docs := manifestDocs(t, dir)
	tag := dig(kust, "images", 0, "newTag").(string)
	if dig(kust, "images", 0, "name") != "ghcr.io/strata-oss/strata" || !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(tag) {
		t.Errorf("kustomization images: %v", kust["images"])
	}
	if slices.Contains(kust["resources"].([]any), any("secret.yaml")) {
		t.Error("the kustomization applies a Secret")
	}
	byKind := map[string]map[string]any{}
	var images []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if img, ok := x["image"].(string); ok {
				images = append(images, img)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for _, d := range docs {
		kind := d["kind"].(string)
		if kind == "Secret" {
			t.Errorf("the kustomization applies Secret %v", dig(d, "metadata", "name"))
		}
		if kind == "Deployment" || kind == "Service" || kind == "ConfigMap" {
			byKind[kind] = d
		}
		walk(d)
	}
	for _, img := range images {
		if img != "ghcr.io/strata-oss/strata:"+tag {
			t.Errorf("image %s, want ghcr.io/strata-oss/strata:%s (pinned, as kustomization.yaml's images)", img, tag)
		}
	}
	if len(images) != 4 {
		t.Errorf("%d images, want 4 (three CronJobs and serve)", len(images))
	}

	dep := byKind["Deployment"]
	if dep == nil || byKind["Service"] == nil {
		t.Fatal("no Deployment or Service for strata serve")
	}
	pod := dig(dep, "spec", "template")
	c := dig(pod, "spec", "containers", 0)
	var args []string
	for _, a := range dig(c, "args").([]any) {
		args = append(args, a.(string))
	}
	if !slices.Contains(args, "--listen=0.0.0.0:8080") || !slices.Contains(args, "--config=/etc/strata/serve.yaml") || args[0] != "serve" {
		t.Errorf("serve args %v", args)
	}
	if dig(c, "livenessProbe", "httpGet", "path") != "/healthz" || dig(c, "readinessProbe", "httpGet", "path") != "/readyz" ||
		dig(c, "ports", 0, "containerPort") != 8080 {
		t.Errorf("serve container %v", c)
	}
	if a := dig(pod, "metadata", "annotations"); dig(a, "prometheus.io/scrape") != "true" || dig(a, "prometheus.io/port") != "8080" || dig(a, "prometheus.io/path") != "/metrics" {
		t.Errorf("scrape annotations %v", a)
	}
	if dig(byKind["Service"], "spec", "ports", 0, "port") != 8080 {
		t.Errorf("service %v", byKind["Service"])
	}

	// serve.yaml is strata.yaml plus what only serve reads.
	data := dig(byKind["ConfigMap"], "data").(map[string]any)
	load := func(key string) *config.Config {
		p := filepath.Join(t.TempDir(), key)
		if err := os.WriteFile(p, []byte(data[key].(string)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(p)
		if err != nil {
			t.Fatalf("the ConfigMap's %s: %v", key, err)
		}
		return cfg
	}
	runCfg, serveCfg := load("strata.yaml"), load("serve.yaml")
	if runCfg.Hash() != serveCfg.Hash() {
		t.Error("serve.yaml and strata.yaml differ in more than schedule, api and notify: the safety net would re-run what the CronJobs published")
	}
	if serveCfg.Schedule.Cron == "" || serveCfg.API.ListenAddr() != "0.0.0.0:8080" || len(serveCfg.Notify) == 0 {
		t.Errorf("serve.yaml: schedule %+v api %+v notify %+v", serveCfg.Schedule, serveCfg.API, serveCfg.Notify)
	}
	// serve's arguments parse (up to --help).
	if code, _, stderr := strata(t, append(append([]string(nil), args...), "--help")...); code != 0 {
		t.Errorf("strata %v: exit %d: %s", args, code, stderr)
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not installed: kubectl kustomize not checked")
		return
	}
	out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	for _, want := range []string{"kind: Deployment", "kind: Service", "kind: CronJob", "image: ghcr.io/strata-oss/strata:" + tag} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl kustomize output lacks %q", want)
		}
	}
	if strings.Contains(string(out), "kind: Secret") || strings.Contains(string(out), "REPLACE_ME") {
		t.Error("kubectl kustomize output has a Secret")
	}
}

// TestDockerfile: the image's build stages, its EXPOSE, its .dockerignore,
// and its build command, run here as the Dockerfile runs it (the same go
// build flags), stamps the version and commit that `strata version`
// prints.
func TestDockerfile(t *testing.T) {
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continuation lines joined and comments dropped.
	var instrs []string
	var cur string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(strings.TrimRight(l, " "), "\\"); ok {
			cur += strings.TrimSpace(s) + " "
			continue
		}
		cur += strings.TrimSpace(l)
		if cur != "" {
			instrs = append(instrs, cur)
		}
		cur = ""
	}
	var froms, exposes []string
	var build string
	for _, in := range instrs {
		switch f := strings.Fields(in); f[0] {
		case "FROM":
			froms = append(froms, in)
		case "EXPOSE":
			exposes = append(exposes, f[1:]...)
		case "RUN":
			if strings.Contains(in, "go build") {
				build = strings.TrimPrefix(in, "RUN ")
			}
		}
	}
	if len(froms) != 2 || !strings.HasSuffix(froms[0], " AS build") || !strings.Contains(froms[1], "distroless") {
		t.Errorf("stages %v: want a build stage and a distroless one", froms)
	}
	if !slices.Equal(exposes, []string{"8080"}) {
		t.Errorf("EXPOSE %v, want 8080", exposes)
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, want := range []string{".git", "strata-demo/", "bench/", ".cache/"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	m := regexp.MustCompile(`^CGO_ENABLED=0 go build (.*) -ldflags "([^"]*)" -o (\S+) (\S+)$`).FindStringSubmatch(build)
	if m == nil {
		t.Fatalf("the build command %q is not the shape this test runs", build)
	}
	if testing.Short() {
		t.Skip("-short: not building the binary")
	}
	// The build runs on what docker would send: the tree without what
	// .dockerignore excludes (an embedded file excluded fails here).
	src := filepath.Join(t.TempDir(), "src")
	copyContext(t, root, src, patterns)
	ldflags := strings.NewReplacer("${VERSION}", "v9.8.7-test", "${COMMIT}", "0123abcd").Replace(m[2])
	bin := filepath.Join(t.TempDir(), "strata")
	args := append([]string{"build"}, strings.Fields(m[1])...)
	args = append(args, "-ldflags", ldflags, "-o", bin, m[4])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("strata version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "strata v9.8.7-test\n") || !strings.Contains(string(out), "commit 0123abcd\n") {
		t.Errorf("strata version printed:\n%s", out)
	}
}

// dockerIgnored reports whether rel (slash-separated, relative to the
// context) is excluded by the .dockerignore patterns: root-relative unless
// they start with **/, a matched directory excluding what it holds.
func dockerIgnored(rel string, patterns []string) bool {
	segs := strings.Split(rel, "/")
	for _, p := range patterns {
		if strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue
		}
		p = strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
		from := 0
		if q, ok := strings.CutPrefix(p, "**/"); ok {
			p, from = q, -1
		}
		for i := 0; i < len(segs); i++ {
			if from == 0 && i > 0 {
				break
			}
			for j := i + 1; j <= len(segs); j++ {
				if ok, _ := path.Match(p, strings.Join(segs[i:j], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

// copyContext copies the tree at root to dst without what patterns
// exclude.
func copyContext(t *testing.T, root, dst string, patterns []string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return os.MkdirAll(dst, 0o755)
		}
		if dockerIgnored(filepath.ToSlash(rel), patterns) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDockerIgnored(t *testing.T) {
	pats := []string{".git", "strata-demo/", "/strata", "*.test", "bench/", "**/testdata/", "**/*_test.go", "docs/"}
	for rel, want := range map[string]bool{
		".git/HEAD": true, "strata-demo/input/x": true, "strata": true, "cmd/strata/main.go": false,
		"x.test": true, "cmd/x.test": false, "bench/e2e/main.go": true, "pipeline/config/testdata/a.yaml": true,
		"cmd/strata/main_test.go": true, "configs/demo.yaml": false, "docs/a.md": true, "pipeline/docs.go": false,
	} {
		if got := dockerIgnored(rel, pats); got != want {
			t.Errorf("dockerIgnored(%q) = %v, want %v", rel, got, want)
		}
	}
}
