package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zaki-platform/zaki/internal/member"
)

// TestNotJoined: an agent with a state dir but no credentials and no token
// stops at once and says how to join; it never falls back to plaintext.
func TestNotJoined(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{NodeID: "n1", StateDir: dir, Docker: newFakeDocker()})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(t.Context())
	if !errors.Is(err, member.ErrNotJoined) {
		t.Fatalf("run: %v, want ErrNotJoined", err)
	}
}

// TestControlPlaneFromStateDir: without --controlplane, the address the
// node joined through is used.
func TestControlPlaneFromStateDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "controlplane"), []byte("10.0.0.1:7400\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, flag, state, want string }{
		{"stored", "", dir, "10.0.0.1:7400"},
		{"flag wins", "10.0.0.2:7400", dir, "10.0.0.2:7400"},
		{"nothing stored", "", t.TempDir(), DefaultControlPlane},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Config{NodeID: "n1", ControlPlane: tc.flag, StateDir: tc.state}.withDefaults()
			if err != nil || cfg.ControlPlane != tc.want {
				t.Fatalf("control plane %q (%v), want %q", cfg.ControlPlane, err, tc.want)
			}
		})
	}
}
