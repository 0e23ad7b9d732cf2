package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/strata-oss/strata/pipeline/config"
)

// cronJob is the part of a Kubernetes CronJob the checks below read.
type cronJob struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Schedule    string `yaml:"schedule"`
		TimeZone    string `yaml:"timeZone"`
		JobTemplate struct {
			Spec struct {
				CompletionMode string `yaml:"completionMode"`
				Completions    int    `yaml:"completions"`
				Parallelism    int    `yaml:"parallelism"`
				Template       struct {
					Spec struct {
						RestartPolicy string `yaml:"restartPolicy"`
						Containers    []struct {
							Image string   `yaml:"image"`
							Args  []string `yaml:"args"`
						} `yaml:"containers"`
						Volumes []struct {
							ConfigMap struct {
								Name string `yaml:"name"`
							} `yaml:"configMap"`
						} `yaml:"volumes"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
	Data map[string]string `yaml:"data"`
}

// TestKubernetesManifests: the manifests of deploy/kubernetes hang
// together — every file the kustomization lists exists and parses, the
// ConfigMap's configuration is valid, the three steps run at the same time
// on the same date and config, and the Indexed Job has as many pods as the
// finishing step expects shards — and every command and flag they pass is
// one strata has (run through its own flag parsing, which stops at the
// first unknown flag).
func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "kubernetes")
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &kust)
	jobs := map[string]cronJob{}
	var cfgMap map[string]string
	for _, r := range kust.Resources {
		docs := readDocs(t, filepath.Join(dir, r))
		for _, d := range docs {
			switch d.Kind {
			case "CronJob":
				jobs[d.Metadata.Name] = d
			case "ConfigMap":
				cfgMap = d.Data
			}
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgMap["strata.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("the ConfigMap's strata.yaml: %v", err)
	}
	if cfg.Fit.Fraction() >= 1 {
		t.Error("the example should fit on a sample")
	}
	for _, name := range []string{"strata-fit", "strata-score", "strata-finish"} {
		j, ok := jobs[name]
		if !ok {
			t.Fatalf("no CronJob %s", name)
		}
		if j.Spec.Schedule != jobs["strata-fit"].Spec.Schedule || j.Spec.TimeZone != jobs["strata-fit"].Spec.TimeZone {
			t.Errorf("%s runs at %s %s, the fit at %s %s", name, j.Spec.Schedule, j.Spec.TimeZone,
				jobs["strata-fit"].Spec.Schedule, jobs["strata-fit"].Spec.TimeZone)
		}
		ps := j.Spec.JobTemplate.Spec.Template.Spec
		if ps.RestartPolicy != "Never" || len(ps.Containers) != 1 || len(ps.Volumes) != 1 || ps.Volumes[0].ConfigMap.Name != "strata-config" {
			t.Errorf("%s: pod spec %+v", name, ps)
			continue
		}
		args := ps.Containers[0].Args
		if !slices.Contains(args, "--config=/etc/strata/strata.yaml") || !slices.Contains(args, "--as-of=yesterday") {
			t.Errorf("%s: args %v", name, args)
		}
		// strata's own parsing of these arguments, up to running them:
		// --help after them makes it stop with exit 0 once they parse.
		t.Setenv("JOB_COMPLETION_INDEX", "0")
		if code, _, stderr := strata(t, append(append([]string(nil), args...), "--help")...); code != 0 {
			t.Errorf("%s: strata %v: exit %d: %s", name, args, code, stderr)
		}
	}
	score := jobs["strata-score"].Spec.JobTemplate.Spec
	var shards, finishShards string
	for _, a := range score.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--shard="); ok {
			shards = v
		}
	}
	for _, a := range jobs["strata-finish"].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--shards="); ok {
			finishShards = v
		}
	}
	if score.CompletionMode != "Indexed" || score.Completions != score.Parallelism || shards == "" ||
		shards != finishShards || shards != strconv.Itoa(score.Completions) {
		t.Errorf("score: %s mode, %d completions, %d parallel, --shard=%s; finish --shards=%s",
			score.CompletionMode, score.Completions, score.Parallelism, shards, finishShards)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readDocs(t *testing.T, path string) []cronJob {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []cronJob
	for {
		var d cronJob
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d.Kind == "" {
			t.Fatalf("%s: a document without a kind", path)
		}
		out = append(out, d)
	}
}
