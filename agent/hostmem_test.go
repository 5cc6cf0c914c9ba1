package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHostMemory(t *testing.T) {
	cases := []struct {
		name, content string
		want          int64
		ok            bool
	}{
		{"meminfo", "MemTotal:       24576000 kB\nMemFree:  100 kB\n", 24576000 << 10, true},
		{"no MemTotal", "MemFree:  100 kB\n", 0, false},
		{"not a number", "MemTotal: lots kB\n", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "meminfo")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, ok := hostMemory(path)
			if got != c.want || ok != c.ok {
				t.Errorf("hostMemory = %d, %v; want %d, %v", got, ok, c.want, c.ok)
			}
		})
	}
	if _, ok := hostMemory(filepath.Join(t.TempDir(), "missing")); ok {
		t.Error("a missing file read as memory")
	}
}
