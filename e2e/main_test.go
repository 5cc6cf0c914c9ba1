package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if zakiBin != "" {
		_ = os.RemoveAll(filepath.Dir(zakiBin))
	}
	os.Exit(code)
}
