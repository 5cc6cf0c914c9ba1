package agent

import (
	"testing"
	"time"
)

func TestSanitizeNodeID(t *testing.T) {
	cases := map[string]string{
		"Web-01.example.com":           "web-01",
		"--odd_HOST":                   "odd-host",
		"":                             "node",
		"___":                          "node",
		"a" + string(make([]byte, 70)): "a" + string(repeat('-', 62)),
	}
	for in, want := range cases {
		if got := SanitizeNodeID(in); got != want {
			t.Errorf("SanitizeNodeID(%q) = %q, want %q", in, got, want)
		}
		if got := SanitizeNodeID(in); !nodeIDPattern.MatchString(got) {
			t.Errorf("SanitizeNodeID(%q) = %q is not a valid node id", in, got)
		}
	}
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{NodeID: "n1"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ControlPlane != "127.0.0.1:7400" || cfg.Address != "127.0.0.1" || cfg.PortMin != 19000 ||
		cfg.PortMax != 19999 || cfg.MemoryBytes != defaultMemory() || cfg.MemoryBytes <= 0 || cfg.MaxTenants != 25 || cfg.ResyncPeriod != 10*time.Second ||
		cfg.BotAPIURL != "http://host.docker.internal:7480" || cfg.Logger == nil || cfg.Registry == nil ||
		cfg.TransferListen != "" {
		t.Errorf("defaults = %+v", cfg)
	}
	bad := []Config{
		{NodeID: "Upper"},
		{NodeID: "-lead"},
		{NodeID: "n1", PortMin: 20000, PortMax: 19000},
		{NodeID: "n1", PortMin: 1, PortMax: 70000},
		{NodeID: "n1", TransferListen: "7404"},
		{NodeID: "n1", TransferListen: "127.0.0.1:7404", TransferAdvertise: "agent-1"},
	}
	for _, c := range bad {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) accepted", c)
		}
	}
}
