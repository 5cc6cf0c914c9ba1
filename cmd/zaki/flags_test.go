package main

import (
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestEveryFlagHasEnvAndDefault guards the CLI's promise: every flag can be
// set by a ZAKI_* environment variable, and its help says its default.
func TestEveryFlagHasEnvAndDefault(t *testing.T) {
	var c cli
	parser, err := kong.New(&c, kong.Name("zaki"), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	seen := 0
	// --help is kong's own; --force confirms a destructive command and must
	// be typed each time, never left behind in an environment.
	exempt := map[string]bool{"help": true, "force": true}
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			seen++
			if exempt[f.Name] {
				continue
			}
			name := n.Path() + " --" + f.Name
			if len(f.Envs) == 0 || !strings.HasPrefix(f.Envs[0], "ZAKI_") {
				t.Errorf("%s reads no ZAKI_* environment variable (envs %v)", name, f.Envs)
			}
			if !strings.Contains(f.Help, "default") {
				t.Errorf("%s does not say its default: %q", name, f.Help)
			}
		}
		for _, child := range n.Children {
			walk(child)
		}
	}
	walk(parser.Model.Node)
	if seen < 40 {
		t.Fatalf("walked only %d flags: the walk is broken", seen)
	}
}
