package testutil

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/client"
)

// echoLog is where the echo assistant (cmd/zaki-echo) appends, on its
// volume, one JSON line per update it durably accepted.
const echoLog = "/data/updates.log"

// EchoReceived reads the update ids an echo container durably accepted, in
// the order it accepted them, from its volume (the container may be running
// or stopped). A container that has accepted nothing yet has no log: nil.
func EchoReceived(docker *client.Client, containerID string) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, _, err := docker.CopyFromContainer(ctx, containerID, echoLog)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return nil, err
	}
	var ids []int64
	sc := bufio.NewScanner(tr)
	for sc.Scan() {
		var e struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s line %q: %w", echoLog, sc.Text(), err)
		}
		ids = append(ids, e.UpdateID)
	}
	return ids, sc.Err()
}
