package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// simProject is one project as GET /_sim/state shows it.
type simProject struct {
	ProjectID  string            `json:"projectId"`
	State      string            `json:"state"`
	Labels     map[string]string `json:"labels"`
	DeleteTime *time.Time        `json:"deleteTime"`
	PurgeTime  *time.Time        `json:"purgeTime"`
	Purged     bool              `json:"purged"`
}

// simProjectByID is the simulated Resource Manager's project with this ID, if any.
func simProjectByID(t *testing.T, id string) (simProject, bool) {
	t.Helper()
	var st struct {
		Resourcemanager struct {
			Projects []simProject `json:"projects"`
		} `json:"resourcemanager"`
	}
	simJSON(t, http.MethodGet, "/_sim/state", nil, &st)
	for _, p := range st.Resourcemanager.Projects {
		if p.ProjectID == id {
			return p, true
		}
	}
	return simProject{}, false
}

// createInstance files a new-instance issue and waits until the instance is active; it returns
// its project, which must be one of the slug's own with a random part.
func createInstance(t *testing.T, tc client.Client, slug string) string {
	t.Helper()
	fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, devstack.SampleNewInstanceBody(slug))
	r := waitState(t, tc, slug, workflows.StateActive, 3*time.Minute)
	id := r.Instance.ProjectID
	if !strings.HasPrefix(id, "src-"+slug+"-") || len(id) != len("src-"+slug+"-")+6 {
		t.Fatalf("instance %s has project %q, want src-%s-<6 random>", slug, id, slug)
	}
	if p, ok := simProjectByID(t, id); !ok || p.State != "ACTIVE" || p.Labels["slug"] != slug {
		t.Fatalf("the simulator's project %s: %+v (found %v)", id, p, ok)
	}
	return id
}

// tearDown files a teardown, has bob approve it and waits until the instance is deleted; it returns
// the teardown's closing comment.
func tearDown(t *testing.T, tc client.Client, slug string) string {
	t.Helper()
	is := fileIssue(t, "alice", forms.OpTeardown, "Teardown "+slug, teardownBody(slug))
	id := opID(forms.OpTeardown, slug, is)
	eventually(t, time.Minute, "the teardown to wait for approval", func() bool {
		p, err := progressOf(t, tc, id)
		return err == nil && len(p.Steps) > 0 && p.Steps[0].State == workflows.StepRunning
	})
	say(t, "bob", is.GetNumber(), "/approve")
	waitState(t, tc, slug, workflows.StateDeleted, 3*time.Minute)
	for _, c := range botComments(t, is.GetNumber()) {
		if strings.Contains(c.GetBody(), "has been torn down") {
			return c.GetBody()
		}
	}
	t.Fatalf("no closing comment on the teardown issue of %s", slug)
	return ""
}

// checkWhatRemains: the closing comment says what the simulated clouds hold after the teardown:
// the project in DELETE_REQUESTED until its purge, and how to undo; no final backups are claimed.
func checkWhatRemains(t *testing.T, summary, project string) {
	t.Helper()
	p, ok := simProjectByID(t, project)
	if !ok || p.State != "DELETE_REQUESTED" || p.Purged || p.DeleteTime == nil || p.PurgeTime == nil {
		t.Fatalf("after the teardown the simulator holds project %s as %+v (found %v), want DELETE_REQUESTED", project, p, ok)
	}
	until := p.PurgeTime.UTC().Format("Mon 2 Jan 2006 15:04 MST")
	since := p.DeleteTime.UTC().Format("Mon 2 Jan 2006 15:04 MST")
	for _, want := range []string{"Deleted for good", "`" + project + "`", "DELETE_REQUESTED since " + since, "until **" + until + "**",
		"gcloud projects undelete " + project, "reverting that pull request"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the closing comment lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "Final backups") || strings.Contains(summary, "backup run") {
		t.Errorf("the closing comment names backups that do not outlive the teardown:\n%s", summary)
	}
}

// TestTeardownOfSuspendedInstanceThenCreateAgain: a suspended instance (no nodes, database stopped,
// so nothing can be backed up) is torn down to the end; the closing comment matches what the
// simulator holds; and the same slug can be created again at once, in a project of its own.
func TestTeardownOfSuspendedInstanceThenCreateAgain(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-again"
	first := createInstance(t, tc, slug)

	fileIssue(t, "alice", forms.OpSuspend, "Suspend "+slug, suspendBody(slug))
	waitState(t, tc, slug, workflows.StateSuspended, 2*time.Minute)
	summary := tearDown(t, tc, slug)
	checkWhatRemains(t, summary, first)
	for k, c := range ledgerFor(t, "gkebackup/projects/"+first+"/") {
		if strings.Contains(k, "/backups/") && c.Created > 1 {
			t.Errorf("%s created %d times", k, c.Created)
		}
	}

	second := createInstance(t, tc, slug)
	if second == first {
		t.Fatalf("the new create reused project ID %s", first)
	}
	if p, _ := simProjectByID(t, first); p.State != "DELETE_REQUESTED" {
		t.Errorf("the first project is %s, want it left DELETE_REQUESTED", p.State)
	}
	if code, body := visit(t, spec.DefaultDomain(slug), "/__version"); code != 200 || strings.TrimSpace(body) != devstack.LatestVersion {
		t.Fatalf("the re-created instance does not serve: %d %q", code, body)
	}
}

// TestCreateAgainAfterProjectPurged: 31 days after a teardown the old project is purged (gone, its ID
// taken for ever); a new create of the slug still succeeds, in a new project.
func TestCreateAgainAfterProjectPurged(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-purged"
	first := createInstance(t, tc, slug)
	summary := tearDown(t, tc, slug)
	checkWhatRemains(t, summary, first)

	// Day 31 on the simulator's clock; set back afterwards, for the tests that share the stack.
	t.Cleanup(func() { simJSON(t, http.MethodDelete, "/_sim/clock", nil, nil) })
	simJSON(t, http.MethodPost, "/_sim/clock", strings.NewReader(`{"advance":"744h"}`), nil)
	if p, ok := simProjectByID(t, first); !ok || !p.Purged {
		t.Fatalf("31 days after the teardown project %s is %+v, want purged", first, p)
	}

	second := createInstance(t, tc, slug)
	if second == first {
		t.Fatalf("the new create reused project ID %s", first)
	}
}
