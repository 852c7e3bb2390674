package tests

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWorkerHealthMetricsAndCleanShutdown: the worker serves health and Prometheus metrics (the
// SDK's, under one registry), stops cleanly on SIGTERM, and a restarted worker picks work up again.
func TestWorkerHealthMetricsAndCleanShutdown(t *testing.T) {
	if code, body := get(t, stack.WorkerURL()+"/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Fatalf("readyz: %d %q", code, body)
	}
	var metrics string
	eventually(t, 15*time.Second, "SDK metrics on /metrics", func() bool {
		_, metrics = get(t, stack.WorkerURL()+"/metrics")
		return strings.Contains(metrics, "worker_temporal_")
	})

	logPath := filepath.Join(stack.Opts.Dir, "logs", "worker.log")
	if err := stack.Kill("worker", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "worker stopped cleanly") {
		t.Fatalf("worker did not report a clean shutdown on SIGTERM; log tail:\n%s", tailString(string(log), 2000))
	}
	if err := stack.Start(context.Background(), "worker"); err != nil {
		t.Fatal(err)
	}
	// The restarted worker serves a new request end to end.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	is, err := stack.FileNewInstance(ctx, "after-restart")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the restarted worker to acknowledge the request", func() bool {
		return len(botComments(t, is.GetNumber())) == 1
	})
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
