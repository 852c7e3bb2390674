package main

import (
	"flag"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// FuzzWebhook's inputs are deliveries of a few KB of JSON, and every new input that widens
	// coverage is minimised before fuzzing goes on. The default minute of minimising each one left
	// a 60 s run mostly idle; a few seconds keeps the corpus small enough. An explicit
	// -fuzzminimizetime on the command line still wins.
	if f := flag.Lookup("test.fuzzminimizetime"); f != nil {
		f.Value.Set("3s")
	}
	os.Exit(m.Run())
}
