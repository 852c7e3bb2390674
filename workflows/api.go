// Package workflows holds the deterministic workflow code: one file per operation. This file is the
// contract other packages build on: task queue, workflow names, inputs and outputs, ID builders and
// the typed search attributes the Web UI and the operator CLI filter on.
package workflows

import (
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// TaskQueue is where the lifecycle worker polls.
const TaskQueue = "instance-lifecycle"

// GitHubWritesQueue is where config changes run when the request's settings say so
// (Settings.GitHubWritesQueue): the worker serves it rate-limited, so all workers together stay
// within GitHub's secondary limits on content creation.
const GitHubWritesQueue = "github-writes"

// IssueRef names the GitHub issue a request came from; status comments and decisions go there.
type IssueRef struct {
	Owner  string `json:"owner"`
	Repo   string `json:"repo"`
	Number int    `json:"number"`
}

func (i IssueRef) String() string { return fmt.Sprintf("%s/%s#%d", i.Owner, i.Repo, i.Number) }

// Search attributes. SearchAttributeTypes is what the dev server and the namespace setup
// register; keep both in this one place.
var (
	SAInstanceSlug   = temporal.NewSearchAttributeKeyKeyword("InstanceSlug")
	SAInstanceType   = temporal.NewSearchAttributeKeyKeyword("InstanceType")
	SAOperation      = temporal.NewSearchAttributeKeyKeyword("Operation")
	SAInstanceState  = temporal.NewSearchAttributeKeyKeyword("InstanceState")
	SANeedsAttention = temporal.NewSearchAttributeKeyBool("NeedsAttention")
	// SAAttentionReason says why NeedsAttention is set, as a column of the Web UI's workflow list:
	// the step and the error's type, never its message (search attributes are stored in clear).
	SAAttentionReason = temporal.NewSearchAttributeKeyKeyword("AttentionReason")
	SASLADeadline     = temporal.NewSearchAttributeKeyTime("SLADeadline")
	SASLABreached     = temporal.NewSearchAttributeKeyBool("SLABreached")
	SAIssue           = temporal.NewSearchAttributeKeyKeyword("Issue")
	// SARevision is the run's revision (its input's Revision): `LifecycleRevision < N` lists the
	// runs that still need the code of revisions below N.
	SARevision = temporal.NewSearchAttributeKeyInt64("LifecycleRevision")
)

// SearchAttributeTypes lists every custom search attribute with its type, for registration.
var SearchAttributeTypes = []struct {
	Name string
	Type enums.IndexedValueType
}{
	{SAInstanceSlug.GetName(), enums.INDEXED_VALUE_TYPE_KEYWORD},
	{SAInstanceType.GetName(), enums.INDEXED_VALUE_TYPE_KEYWORD},
	{SAOperation.GetName(), enums.INDEXED_VALUE_TYPE_KEYWORD},
	{SAInstanceState.GetName(), enums.INDEXED_VALUE_TYPE_KEYWORD},
	{SANeedsAttention.GetName(), enums.INDEXED_VALUE_TYPE_BOOL},
	{SAAttentionReason.GetName(), enums.INDEXED_VALUE_TYPE_KEYWORD},
	{SASLADeadline.GetName(), enums.INDEXED_VALUE_TYPE_DATETIME},
	{SASLABreached.GetName(), enums.INDEXED_VALUE_TYPE_BOOL},
	{SAIssue.GetName(), enums.INDEXED_VALUE_TYPE_KEYWORD},
	{SARevision.GetName(), enums.INDEXED_VALUE_TYPE_INT},
}
