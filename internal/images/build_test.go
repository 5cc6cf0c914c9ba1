package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/build"
)

// fakeBuilder answers ImageBuild with a canned progress stream.
type fakeBuilder struct {
	stream  string
	err     error
	context []byte
	opts    build.ImageBuildOptions
}

func (f *fakeBuilder) ImageBuild(_ context.Context, r io.Reader, o build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	f.context, _ = io.ReadAll(r)
	f.opts = o
	if f.err != nil {
		return build.ImageBuildResponse{}, f.err
	}
	return build.ImageBuildResponse{Body: io.NopCloser(strings.NewReader(f.stream))}, nil
}

func TestBuildReadsTheStream(t *testing.T) {
	tests := []struct {
		name, stream string
		err          error
		wantID       string
		wantErr      string
	}{
		{"aux id", `{"stream":"Step 1/2"}` + "\n" + `{"aux":{"ID":"sha256:abc"}}` + "\n" + `{"stream":"Successfully tagged x:1"}`, nil, "sha256:abc", ""},
		{"text id only", `{"stream":"Successfully built 5a0e1b19b28b\n"}`, nil, "5a0e1b19b28b", ""},
		{"error detail", `{"stream":"Step 1/2"}` + "\n" + `{"errorDetail":{"message":"COPY failed: no such file"},"error":"COPY failed: no such file"}`, nil, "", "COPY failed"},
		{"no id", `{"stream":"Step 1/2"}`, nil, "", "without an image id"},
		{"garbled", `{"stream":`, nil, "", "read build output"},
		{"call fails", "", errors.New("daemon down"), "", "daemon down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBuilder{stream: tt.stream, err: tt.err}
			id, err := Build(context.Background(), f, Spec{Tag: "x:1", Dockerfile: "Dockerfile",
				Files: []File{{Name: "Dockerfile", Data: []byte("FROM scratch\n")}}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID {
				t.Fatalf("id, err = %q, %v", id, err)
			}
			if f.opts.Version != build.BuilderV1 || f.opts.Tags[0] != "x:1" {
				t.Errorf("options = %+v", f.opts)
			}
		})
	}
}

func TestContext(t *testing.T) {
	files := []File{
		{Name: "b/bin", Data: []byte("binary"), Mode: 0o755},
		{Name: "Dockerfile", Data: []byte("FROM scratch")},
	}
	a, err := Context(files)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Context([]File{files[1], files[0]})
	if !bytes.Equal(a, b) {
		t.Error("the same files gave different contexts")
	}
	tr := tar.NewReader(bytes.NewReader(a))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "b/bin" && h.Mode != 0o755 {
			t.Errorf("mode = %o", h.Mode)
		}
	}
	if strings.Join(names, ",") != "Dockerfile,b/bin" {
		t.Errorf("names = %v", names)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "."} {
		if _, err := Context([]File{{Name: bad, Data: []byte("x")}}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, err := Context([]File{{Name: "x", Source: "/nonexistent/zaki"}}); err == nil {
		t.Error("a missing source file was accepted")
	}
}
