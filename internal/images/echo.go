package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EchoTag is the tag of the echo assistant's image; the echo profile names it.
const EchoTag = "zaki-echo:v1"

// echoDockerfile and echoRootfs are the echo image's sources, relative to the
// repository root; the Dockerfile COPYs them with these same paths, so the
// CLI build from the root and this build agree.
const (
	echoDockerfile = "deploy/docker/echo.Dockerfile"
	echoRootfs     = "deploy/docker/echo-rootfs"
	echoBinary     = "bin/zaki-echo"
)

// EchoSpec returns the build of the echo image from the repository at root
// and an already built static zaki-echo binary.
func EchoSpec(root, binary string, labels map[string]string) (Spec, error) {
	files := []File{
		{Name: echoDockerfile, Source: filepath.Join(root, echoDockerfile)},
		{Name: echoBinary, Source: binary, Mode: 0o755},
	}
	rootfs := filepath.Join(root, echoRootfs)
	err := filepath.WalkDir(rootfs, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, File{Name: filepath.ToSlash(rel), Source: p})
		return nil
	})
	if err != nil {
		return Spec{}, fmt.Errorf("echo image sources: %w", err)
	}
	return Spec{Tag: EchoTag, Dockerfile: echoDockerfile, Files: files, Labels: labels}, nil
}

// GoBuildStatic builds the Go package pkg ("./cmd/zaki-echo") of the module
// at root into out as a static binary (CGO_ENABLED=0), fit for FROM scratch.
func GoBuildStatic(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(string(output)))
	}
	return nil
}

// BuildEcho builds the zaki-echo binary into workDir and the echo image from
// it, returning EchoTag.
func BuildEcho(ctx context.Context, b Builder, root, workDir string) (string, error) {
	bin := filepath.Join(workDir, "zaki-echo")
	if err := GoBuildStatic(ctx, root, "./cmd/zaki-echo", bin); err != nil {
		return "", err
	}
	spec, err := EchoSpec(root, bin, map[string]string{"org.zaki.image": "echo"})
	if err != nil {
		return "", err
	}
	if _, err := Build(ctx, b, spec); err != nil {
		return "", err
	}
	return EchoTag, nil
}
