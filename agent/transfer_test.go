package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
)

// stream replays msgs to receiveVolume, then io.EOF.
func stream(msgs ...*zakiv1.PullVolumeResponse) func() (*zakiv1.PullVolumeResponse, error) {
	return func() (*zakiv1.PullVolumeResponse, error) {
		if len(msgs) == 0 {
			return nil, io.EOF
		}
		m := msgs[0]
		msgs = msgs[1:]
		return m, nil
	}
}

func data(b []byte) *zakiv1.PullVolumeResponse {
	return &zakiv1.PullVolumeResponse{Part: &zakiv1.PullVolumeResponse_Data{Data: b}}
}

func done(n int, sum string) *zakiv1.PullVolumeResponse {
	return &zakiv1.PullVolumeResponse{Part: &zakiv1.PullVolumeResponse_Done{Done: &zakiv1.VolumeSummary{
		Bytes: uint64(n), Sha256: sum}}}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// failingWriter fails once more than room bytes are written, like a full disk.
type failingWriter struct{ room int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		return 0, errors.New("no space left on device")
	}
	w.room -= len(p)
	return len(p), nil
}

func TestSendReceiveVolume(t *testing.T) {
	vol := make([]byte, 3*chunkSize+123)
	_, _ = rand.Read(vol)
	var msgs []*zakiv1.PullVolumeResponse
	sent, err := sendVolume(context.Background(), bytes.NewReader(vol), func(m *zakiv1.PullVolumeResponse) error {
		msgs = append(msgs, cloneChunk(m))
		return nil
	}, func(float64) {})
	if err != nil || sent != int64(len(vol)) {
		t.Fatalf("sendVolume = %d, %v", sent, err)
	}
	if len(msgs) != 5 || len(msgs[0].GetData()) != chunkSize || msgs[4].GetDone().GetSha256() != sha(vol) {
		t.Fatalf("sent %d messages, first of %d bytes, summary %v", len(msgs), len(msgs[0].GetData()), msgs[len(msgs)-1])
	}
	var got bytes.Buffer
	var counted float64
	n, err := receiveVolume(stream(msgs...), &got, func(v float64) { counted += v })
	if err != nil || n != int64(len(vol)) || !bytes.Equal(got.Bytes(), vol) || counted != float64(len(vol)) {
		t.Fatalf("receiveVolume = %d, %v (counted %v, equal %v)", n, err, counted, bytes.Equal(got.Bytes(), vol))
	}

	a, b := []byte("first"), []byte("second")
	ab := append(append([]byte{}, a...), b...)
	bad := []struct {
		name string
		msgs []*zakiv1.PullVolumeResponse
		w    io.Writer
		want string
	}{
		{"ends without summary", []*zakiv1.PullVolumeResponse{data(a), data(b)}, nil, "without its summary"},
		{"nothing at all", nil, nil, "after 0 bytes without its summary"},
		{"wrong sha", []*zakiv1.PullVolumeResponse{data(a), data(b), done(len(ab), sha(a))}, nil, "corrupt"},
		{"wrong count", []*zakiv1.PullVolumeResponse{data(a), done(len(ab), sha(a))}, nil, "received 5 bytes, the source sent 11"},
		{"more after summary", []*zakiv1.PullVolumeResponse{data(a), done(len(a), sha(a)), data(b)}, nil, "went on after"},
		{"an empty message", []*zakiv1.PullVolumeResponse{{}}, nil, "no part"},
		{"disk full", []*zakiv1.PullVolumeResponse{data(a), data(b), done(len(ab), sha(ab))},
			&failingWriter{room: 6}, "write the copy: no space left"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w
			if w == nil {
				w = io.Discard
			}
			_, err := receiveVolume(stream(tc.msgs...), w, func(float64) {})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("a broken stream", func(t *testing.T) {
		recv := func() (*zakiv1.PullVolumeResponse, error) { return nil, status.Error(codes.Unavailable, "gone") }
		if _, err := receiveVolume(recv, io.Discard, func(float64) {}); status.Code(err) != codes.Unavailable {
			t.Fatalf("error %v, want the stream's Unavailable", err)
		}
	})
}

func TestCheckPull(t *testing.T) {
	stopped := stoppedAssignment("7", 4, "n2")
	// A discard wins over stopped, even for the move's own target.
	discarded := stoppedAssignment("7", 4, "n2")
	discarded.Discard = true
	agentN2 := &pki.Identity{Role: pki.RoleAgent, ID: "n2"}
	cases := []struct {
		name   string
		req    *zakiv1.PullVolumeRequest
		want   *zakiv1.Assignment
		caller *pki.Identity
		code   codes.Code
		msg    string
	}{
		{"the named target", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, stopped, agentN2, codes.OK, ""},
		{"no TLS", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, stopped, nil, codes.OK, ""},
		{"bad tenant", &zakiv1.PullVolumeRequest{TenantId: "../x", Generation: 4}, stopped, agentN2, codes.InvalidArgument, "tenant id"},
		{"no generation", &zakiv1.PullVolumeRequest{TenantId: "7"}, stopped, agentN2, codes.InvalidArgument, "generation"},
		{"not here", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, nil, agentN2, codes.FailedPrecondition, "not assigned to node n1"},
		{"running", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, testAssignment("7", 4, 19001), agentN2,
			codes.FailedPrecondition, "does not hold tenant 7 stopped"},
		{"discarded", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, discarded, agentN2,
			codes.FailedPrecondition, "node n1 discards tenant 7"},
		{"another generation", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 3}, stopped, agentN2,
			codes.FailedPrecondition, "stopped at generation 4, not 3"},
		{"another node", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, stopped,
			&pki.Identity{Role: pki.RoleAgent, ID: "n3"}, codes.PermissionDenied, `to node "n2", not to zaki://agent/n3`},
		{"a router", &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}, stopped,
			&pki.Identity{Role: pki.RoleRouter, ID: "n2"}, codes.PermissionDenied, "only agents"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPull("n1", tc.req, tc.want, tc.caller)
			if status.Code(err) != tc.code || (tc.msg != "" && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("checkPull = %v, want %v %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestPickStopped(t *testing.T) {
	cases := []struct {
		name  string
		found []observed
		id    string
		msg   string
	}{
		{"exited", []observed{{"a", 3, "exited"}}, "a", ""},
		{"the newest stopped", []observed{{"a", 3, "exited"}, {"b", 4, "created"}}, "b", ""},
		{"still running", []observed{{"a", 3, "exited"}, {"b", 3, "running"}}, "", "still running"},
		{"none", nil, "", "no stopped container"},
		{"only dead", []observed{{"a", 3, "dead"}}, "", "no stopped container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := pickStopped("n1", "7", tc.found)
			if id != tc.id || (tc.msg == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.msg) ||
				status.Code(err) != codes.FailedPrecondition)) {
				t.Fatalf("pickStopped = %q, %v; want %q, %q", id, err, tc.id, tc.msg)
			}
		})
	}
}

func TestAdvertiseAddr(t *testing.T) {
	cases := []struct{ bound, advertise, address, want string }{
		{"127.0.0.1:7404", "", "10.0.0.5", "127.0.0.1:7404"},
		{"0.0.0.0:7404", "", "10.0.0.5", "10.0.0.5:7404"},
		{"[::]:7404", "", "10.0.0.5", "10.0.0.5:7404"},
		{"0.0.0.0:7404", "agent-1.internal:17404", "10.0.0.5", "agent-1.internal:17404"},
	}
	for _, tc := range cases {
		if got := advertiseAddr(tc.bound, tc.advertise, tc.address); got != tc.want {
			t.Errorf("advertiseAddr(%q, %q, %q) = %q, want %q", tc.bound, tc.advertise, tc.address, got, tc.want)
		}
	}
}

func cloneChunk(m *zakiv1.PullVolumeResponse) *zakiv1.PullVolumeResponse {
	if d := m.GetData(); d != nil {
		return data(append([]byte(nil), d...))
	}
	return m
}
