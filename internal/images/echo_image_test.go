package images_test

import (
	"context"
	"testing"

	"github.com/zaki-platform/zaki/internal/images"
	"github.com/zaki-platform/zaki/internal/testutil"
)

func TestEchoImageBuilds(t *testing.T) {
	tag := testutil.EchoImage(t)
	if tag != images.EchoTag {
		t.Fatalf("tag = %q, want %q", tag, images.EchoTag)
	}
	cli := testutil.RequireDocker(t)
	img, err := cli.ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatalf("inspect %s: %v", tag, err)
	}
	if img.Config.User != "1000:1000" {
		t.Errorf("user = %q, want 1000:1000", img.Config.User)
	}
	if _, ok := img.Config.ExposedPorts["8787/tcp"]; !ok {
		t.Errorf("8787/tcp not exposed: %v", img.Config.ExposedPorts)
	}
	// A second call reuses the first build.
	if again := testutil.EchoImage(t); again != tag {
		t.Fatalf("second call = %q", again)
	}
}
