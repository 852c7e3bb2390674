package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// EnvCPUProfileDir names a directory each binary writes its whole-life CPU profile to
// (<component>.pprof, written at a clean shutdown), e.g. for `bin/bench -env
// LIFECYCLE_CPU_PROFILE_DIR=.local/prof`; unset, nothing is profiled.
const EnvCPUProfileDir = "LIFECYCLE_CPU_PROFILE_DIR"

// StartCPUProfile starts profiling when EnvCPUProfileDir is set; the returned stop writes the
// profile out (call it on the way out of main).
func StartCPUProfile(component string) (stop func(), err error) {
	dir := os.Getenv(EnvCPUProfileDir)
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvCPUProfileDir, err)
	}
	f, err := os.Create(filepath.Join(dir, component+".pprof"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvCPUProfileDir, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", EnvCPUProfileDir, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
