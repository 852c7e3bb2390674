package main

import (
	"strings"
	"testing"
)

func TestStickyCacheSize(t *testing.T) {
	t.Setenv("LIFECYCLE_STICKY_CACHE_SIZE", "")
	if n, err := stickyCacheSize(); err != nil || n != DefaultStickyCacheSize {
		t.Fatalf("unset: %d, %v; want %d", n, err, DefaultStickyCacheSize)
	}
	t.Setenv("LIFECYCLE_STICKY_CACHE_SIZE", "500")
	if n, err := stickyCacheSize(); err != nil || n != 500 {
		t.Fatalf("500: %d, %v", n, err)
	}
	t.Setenv("LIFECYCLE_STICKY_CACHE_SIZE", "lots")
	if _, err := stickyCacheSize(); err == nil || !strings.Contains(err.Error(), "LIFECYCLE_STICKY_CACHE_SIZE") {
		t.Fatalf("a bad value should name the variable: %v", err)
	}
}
