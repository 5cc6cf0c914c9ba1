package testutil

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/internal/images"
)

// echoImage builds the echo image once per test process.
var echoImage struct {
	once sync.Once
	tag  string
	err  error
}

// EchoImage returns the tag of the echo assistant's image ("zaki-echo:v1"),
// built from this repository on first use: a static go build of
// ./cmd/zaki-echo and a classic Docker build FROM scratch. It skips (or, under
// CI=true, fails) like RequireDocker when there is no Docker Engine. Later
// calls in the same process reuse the first build and its outcome.
func EchoImage(t testing.TB) string {
	t.Helper()
	cli := RequireDocker(t)
	root := RepoRoot(t)
	echoImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "zaki-echo-build-")
		if err != nil {
			echoImage.err = err
			return
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		echoImage.tag, echoImage.err = images.BuildEcho(ctx, cli, root, dir)
	})
	if echoImage.err != nil {
		t.Fatalf("echo image: %v", echoImage.err)
	}
	return echoImage.tag
}
