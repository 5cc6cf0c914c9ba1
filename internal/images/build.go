package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
)

// Builder is the one Docker Engine call this package uses; *client.Client
// satisfies it.
type Builder interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
}

// File is one entry of a build context.
type File struct {
	// Name is the slash-separated path inside the context ("bin/zaki-echo").
	Name string
	// Mode is the file mode; 0 means 0644.
	Mode int64
	// Data is the content. When nil, Source is read instead.
	Data []byte
	// Source is a local file to read when Data is nil.
	Source string
}

// Spec is one image to build.
type Spec struct {
	// Tag names the result ("zaki-echo:v1").
	Tag string
	// Dockerfile is the Dockerfile's path inside the context; it must be one
	// of Files.
	Dockerfile string
	// Files make up the whole context.
	Files []File
	// Labels are added to the image.
	Labels map[string]string
}

// Build builds s with the classic builder and returns the image id. The
// progress stream is read to the end: an error in it fails the build even
// though the HTTP call itself succeeded.
func Build(ctx context.Context, b Builder, s Spec) (string, error) {
	if s.Tag == "" || s.Dockerfile == "" {
		return "", errors.New("image build: tag and Dockerfile are required")
	}
	tarball, err := Context(s.Files)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", s.Tag, err)
	}
	resp, err := b.ImageBuild(ctx, bytes.NewReader(tarball), build.ImageBuildOptions{
		Tags:        []string{s.Tag},
		Dockerfile:  s.Dockerfile,
		Labels:      s.Labels,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("image %s: build: %w", s.Tag, err)
	}
	defer resp.Body.Close()
	id, err := readStream(resp.Body)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", s.Tag, err)
	}
	return id, nil
}

// Context returns a tar of files, in name order, with a fixed modification
// time so the same files always give the same context (and cache hits).
func Context(files []File) ([]byte, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range sorted {
		if err := addFile(tw, f); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// epoch is the modification time of every context entry.
var epoch = time.Unix(0, 0)

func addFile(tw *tar.Writer, f File) error {
	name := path.Clean(f.Name)
	if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
		return fmt.Errorf("build context: bad name %q", f.Name)
	}
	data := f.Data
	if data == nil {
		var err error
		if data, err = os.ReadFile(f.Source); err != nil {
			return fmt.Errorf("build context %s: %w", name, err)
		}
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// message is one line of the build's JSON progress stream.
type message struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// readStream consumes the progress stream and returns the built image id.
func readStream(r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read build output: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return "", fmt.Errorf("build failed: %s", m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return "", fmt.Errorf("build failed: %s", m.Error)
		}
		var aux struct{ ID string }
		if len(m.Aux) > 0 && json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
			id = aux.ID
		}
		// Older engines report the id only in the text stream.
		if rest, ok := strings.CutPrefix(m.Stream, "Successfully built "); ok && id == "" {
			id = strings.TrimSpace(rest)
		}
	}
	if id == "" {
		return "", errors.New("build output ended without an image id")
	}
	return id, nil
}
