package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// movedFiles is a tar of files with telling owners and modes, below base,
// with a blob spanning several transfer chunks.
func movedFiles(t *testing.T, base string) []byte {
	t.Helper()
	blob := make([]byte, 3*chunkSize+4321)
	_, _ = rand.Read(blob)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	entries := []struct {
		hdr  tar.Header
		data []byte
	}{
		{tar.Header{Typeflag: tar.TypeDir, Name: base + "/moved/", Mode: 0o750, Uid: 1000, Gid: 1000}, nil},
		{tar.Header{Typeflag: tar.TypeReg, Name: base + "/moved/a.txt", Mode: 0o640, Uid: 1000, Gid: 1000}, []byte("hello")},
		{tar.Header{Typeflag: tar.TypeReg, Name: base + "/moved/odd", Mode: 0o604, Uid: 4321, Gid: 8765}, []byte("odd owner")},
		{tar.Header{Typeflag: tar.TypeReg, Name: base + "/moved/blob", Mode: 0o600, Uid: 1000, Gid: 1000}, blob},
		{tar.Header{Typeflag: tar.TypeSymlink, Name: base + "/moved/link", Linkname: "a.txt", Mode: 0o777, Uid: 1000, Gid: 1000}, nil},
	}
	for _, e := range entries {
		h := e.hdr
		h.ModTime, h.Size = now, int64(len(e.data))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// entry is one file of a volume as a tar shows it, without times.
type entry struct {
	Type          byte
	Mode          int64
	UID, GID      int
	Size          int64
	SHA, Linkname string
}

// volumeTree reads the volume mounted at path in container id.
func volumeTree(t *testing.T, cli *client.Client, id, path string) map[string]entry {
	t.Helper()
	rc, _, err := cli.CopyFromContainer(context.Background(), id, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.New()
		_, _ = io.Copy(sum, tr)
		out[h.Name] = entry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Size: h.Size,
			SHA: hex.EncodeToString(sum.Sum(nil)), Linkname: h.Linkname}
	}
}

// flakySource is a TransferService that fails its first pulls, one way
// each, then passes pulls on to the real source at addr.
type flakySource struct {
	zakiv1.UnimplementedTransferServiceServer
	real  zakiv1.TransferServiceClient
	calls atomic.Int64
}

func startFlakySource(t *testing.T, addr string) string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	zakiv1.RegisterTransferServiceServer(srv, &flakySource{real: zakiv1.NewTransferServiceClient(conn)})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func (f *flakySource) PullVolume(req *zakiv1.PullVolumeRequest, out grpc.ServerStreamingServer[zakiv1.PullVolumeResponse]) error {
	call := f.calls.Add(1)
	in, err := f.real.PullVolume(out.Context(), req)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		m, err := in.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case call == 1 && m.GetDone() != nil:
			m.GetDone().Sha256 = hex.EncodeToString(make([]byte, 32)) // a wrong summary
		case call == 2 && i == 2:
			return nil // ends early, without the summary
		}
		if err := out.Send(m); err != nil {
			return err
		}
	}
}

// populateVolume makes the tenant's volume on node (labelled like the
// agent's) and copies files into it through a container that never starts
// and that the agent does not see (no managed-by label).
func populateVolume(t *testing.T, cli *client.Client, node, tenant, image, path string, files []byte) {
	t.Helper()
	ctx := context.Background()
	e := &engine{d: cli, node: node}
	if err := e.ensureVolume(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	s := loaderSpec(node, tenant, echoProfile(t, image))
	s.Name += "-test"
	s.Config.Labels = map[string]string{LabelNode: node}
	s.Host.Mounts[0].Target = path
	resp, err := cli.ContainerCreate(ctx, s.Config, s.Host, nil, nil, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli.ContainerRemove(ctx, resp.ID, container.RemoveOptions{Force: true}) }()
	if err := cli.CopyToContainer(ctx, resp.ID, "/", bytes.NewReader(files), container.CopyToContainerOptions{}); err != nil {
		t.Fatal(err)
	}
}
