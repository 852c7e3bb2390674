package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/sourcegraph/lifecycle/workflows"
)

// manifests decodes every document under k8s/ strictly into the Kubernetes API's own Go types
// (k8s.io/api): an unknown or misspelt field, or a value of the wrong type, fails here, as the API
// server would refuse it.
func manifests(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under deploy/k8s: %v", err)
	}
	out := map[string][]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(b), "\n---\n") {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "v1 ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			default:
				t.Fatalf("%s document %d: %q %q is not a kind this test knows; add it", f, i+1, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i+1, head.Kind, err)
			}
			out[head.Kind] = append(out[head.Kind], obj)
		}
	}
	return out
}

func TestManifestsAreValidAndComplete(t *testing.T) {
	m := manifests(t)
	var deployments []*appsv1.Deployment
	for _, o := range m["Deployment"] {
		deployments = append(deployments, o.(*appsv1.Deployment))
	}
	if len(deployments) != 2 {
		t.Fatalf("want the worker and starter Deployments, got %d", len(deployments))
	}
	secret := m["Secret"][0].(*corev1.Secret)
	for _, d := range deployments {
		sel := d.Spec.Selector.MatchLabels
		for k, v := range sel {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: the selector %s=%s does not match its pods", d.Name, k, v)
			}
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("%s: want at least 2 replicas", d.Name)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: want liveness /healthz and readiness /readyz probes", d.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: want CPU requests and a memory limit", d.Name)
		}
		if d.Spec.Template.Spec.ServiceAccountName == "" {
			t.Errorf("%s: runs without the Workload Identity service account", d.Name)
		}
		// Each Deployment is covered by a PodDisruptionBudget.
		covered := slices.ContainsFunc(m["PodDisruptionBudget"], func(o any) bool {
			p := o.(*policyv1.PodDisruptionBudget)
			for k, v := range p.Spec.Selector.MatchLabels {
				if sel[k] != v {
					return false
				}
			}
			return true
		})
		if !covered {
			t.Errorf("%s: no PodDisruptionBudget selects it", d.Name)
		}
		if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool { return e.SecretRef != nil && e.SecretRef.Name == secret.Name }) {
			t.Errorf("%s: does not read the %s secret", d.Name, secret.Name)
		}
	}
	for _, k := range []string{"GITHUB_TOKEN", "GITHUB_WEBHOOK_SECRET", "CLOUDFLARE_API_TOKEN", "LIFECYCLE_CODEC_KEYS"} {
		if _, ok := secret.StringData[k]; !ok {
			t.Errorf("the secret lacks %s", k)
		}
	}
}

// The setup Job registers exactly the search attributes the workflows use, with their types.
func TestSetupJobRegistersTheSearchAttributes(t *testing.T) {
	job := manifests(t)["Job"][0].(*batchv1.Job)
	args := job.Spec.Template.Spec.Containers[0].Args
	var got []string
	for i := 0; i+3 < len(args); i++ {
		if args[i] == "--name" && args[i+2] == "--type" {
			got = append(got, args[i+1]+"="+args[i+3])
		}
	}
	var want []string
	for _, sa := range workflows.SearchAttributeTypes {
		// The enum's name is the CLI's type name (Keyword, Bool, Datetime, ...).
		want = append(want, fmt.Sprintf("%s=%s", sa.Name, sa.Type.String()))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the setup Job registers\n %v\nbut the workflows use\n %v", got, want)
	}
}
