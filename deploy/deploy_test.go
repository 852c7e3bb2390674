// Package deploy holds the container build and its checks; there is no Docker engine where the tests
// run, so these tests keep the files consistent with the code instead.
package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sourcegraph/lifecycle/workflows"
)

type compose struct {
	Services map[string]struct {
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Build   *struct {
			Dockerfile string            `yaml:"dockerfile"`
			Target     string            `yaml:"target"`
			Args       map[string]string `yaml:"args"`
		} `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	return c
}

func TestComposeRegistersEverySearchAttribute(t *testing.T) {
	cmd := loadCompose(t).Services["temporal-setup"].Command
	var got []string
	for i := 0; i+1 < len(cmd); i++ {
		if cmd[i] == "--name" {
			got = append(got, cmd[i+1]+"="+cmd[i+3])
		}
	}
	var want []string
	for _, sa := range workflows.SearchAttributeTypes {
		want = append(want, sa.Name)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w+"=") }) {
			t.Errorf("search attribute %s is not registered by temporal-setup (got %v)", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("temporal-setup registers %d attributes, the code declares %d", len(got), len(want))
	}
}

func TestComposeBuildsExistingTargets(t *testing.T) {
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := regexp.MustCompile(`(?m)^FROM \S+ AS (\S+)`).FindAllStringSubmatch(string(df), -1)
	var names []string
	for _, s := range stages {
		names = append(names, s[1])
	}
	for name, svc := range loadCompose(t).Services {
		if svc.Build == nil {
			if svc.Image == "" {
				t.Errorf("service %s has neither image nor build", name)
			}
			continue
		}
		if svc.Build.Target != "" && !slices.Contains(names, svc.Build.Target) {
			t.Errorf("service %s builds target %q, not a stage of deploy/Dockerfile (%v)", name, svc.Build.Target, names)
		}
		if tgt := svc.Build.Args["TARGET"]; tgt != "" {
			if _, err := os.Stat("../" + tgt); err != nil {
				t.Errorf("service %s builds ./%s, which does not exist", name, tgt)
			}
		}
	}
	// Where the compose tool exists, let it validate the file too.
	if exec.Command("docker", "compose", "version").Run() == nil {
		out, err := exec.Command("docker", "compose", "-f", "../docker-compose.yaml", "config", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("docker compose config: %v\n%s", err, out)
		}
	} else {
		t.Log("docker compose is not installed: checked the file's structure only")
	}
}
