package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProjectAndSDKMetricsShareOneEndpoint(t *testing.T) {
	r := New("worker")
	defer r.Close()
	r.Scope.Tagged(map[string]string{"operation": "create"}).Counter(OperationsStarted).Inc(2)
	r.SDKHandler().WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(1)
	time.Sleep(1100 * time.Millisecond) // the scope reports once a second
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`worker_lifecycle_operations_started_total{operation="create"} 2`, `worker_temporal_request_total{namespace="default"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
}
