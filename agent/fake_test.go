package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeDocker is an in-memory engine for unit tests. Containers it "runs"
// have address 127.0.0.1, so a readiness probe reaches a test HTTP server.
type fakeDocker struct {
	mu         sync.Mutex
	next       int
	containers map[string]*fakeContainer // by id
	networks   map[string]map[string]string
	volumes    map[string]map[string]string
	images     map[string]bool
	// hidden containers are left out of ContainerList, to stage a name
	// conflict the list did not predict.
	hidden map[string]bool
	calls  []string
	// lists counts ContainerList calls: one per reconcile pass at least.
	lists int
	// volumeTar is what CopyFromContainer returns for a container that
	// mounts the volume, by volume name; loaded is every tar copied into a
	// volume through a container mounting it.
	volumeTar map[string][]byte
	loaded    map[string][][]byte
	// volumeReader, when set, replaces volumeTar as the volume's content.
	volumeReader func() io.Reader
}

type fakeContainer struct {
	ID, Name string
	Config   *container.Config
	Host     *container.HostConfig
	Net      *network.NetworkingConfig
	State    string
	Copied   []string // destination paths
}

func newFakeDocker(images ...string) *fakeDocker {
	f := &fakeDocker{
		containers: map[string]*fakeContainer{},
		networks:   map[string]map[string]string{},
		volumes:    map[string]map[string]string{},
		images:     map[string]bool{},
		hidden:     map[string]bool{},
		volumeTar:  map[string][]byte{},
		loaded:     map[string][][]byte{},
	}
	for _, i := range images {
		f.images[i] = true
	}
	return f
}

var _ Docker = (*fakeDocker)(nil)

// add puts a container straight into the fake, as if a previous agent made it.
func (f *fakeDocker) add(name, state string, labels map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("c%02d%s", f.next, strings.Repeat("0", 14))
	f.containers[id] = &fakeContainer{ID: id, Name: name, State: state,
		Config: &container.Config{Labels: labels}, Host: &container.HostConfig{NetworkMode: container.NetworkMode(name)}}
	return id
}

func (f *fakeDocker) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// byState returns the names of containers in each state.
func (f *fakeDocker) snapshot() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, c := range f.containers {
		out[c.ID] = c.Name + "/" + c.State + "/g" + c.Config.Labels[LabelGeneration]
	}
	return out
}

func (f *fakeDocker) listCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeDocker) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeDocker) find(ref string) *fakeContainer {
	if c, ok := f.containers[ref]; ok {
		return c
	}
	for _, c := range f.containers {
		if c.Name == ref {
			return c
		}
	}
	return nil
}

func (f *fakeDocker) ContainerList(_ context.Context, o container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var out []container.Summary
	for _, c := range f.containers {
		if f.hidden[c.ID] || !matches(c.Config.Labels, o.Filters.Get("label")) {
			continue
		}
		out = append(out, container.Summary{ID: c.ID, Names: []string{"/" + c.Name},
			Labels: c.Config.Labels, State: container.ContainerState(c.State)})
	}
	return out, nil
}

func matches(labels map[string]string, want []string) bool {
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeDocker) ContainerInspect(_ context.Context, ref string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(ref)
	if c == nil {
		return container.InspectResponse{}, fmt.Errorf("no container %s: %w", ref, cerrdefs.ErrNotFound)
	}
	nets := map[string]*network.EndpointSettings{}
	if c.State == "running" {
		nets[string(c.Host.NetworkMode)] = &network.EndpointSettings{IPAddress: "127.0.0.1"}
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: c.ID, Name: "/" + c.Name,
			State: &container.State{Status: container.ContainerState(c.State), Running: c.State == "running"}},
		Config:          c.Config,
		NetworkSettings: &container.NetworkSettings{Networks: nets},
	}, nil
}

func (f *fakeDocker) ContainerCreate(_ context.Context, cfg *container.Config, host *container.HostConfig,
	net *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(name) != nil {
		return container.CreateResponse{}, fmt.Errorf("name %s in use: %w", name, cerrdefs.ErrConflict)
	}
	if !f.images[cfg.Image] {
		return container.CreateResponse{}, fmt.Errorf("no image: %w", cerrdefs.ErrNotFound)
	}
	f.next++
	id := fmt.Sprintf("c%02d%s", f.next, strings.Repeat("0", 14))
	f.containers[id] = &fakeContainer{ID: id, Name: name, Config: cfg, Host: host, Net: net, State: "created"}
	f.record("create %s g%s", name, cfg.Labels[LabelGeneration])
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeDocker) setState(ref, verb, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(ref)
	if c == nil {
		return fmt.Errorf("no container %s: %w", ref, cerrdefs.ErrNotFound)
	}
	f.record("%s %s", verb, c.Name)
	c.State = state
	return nil
}

func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	return f.setState(id, "start", "running")
}

func (f *fakeDocker) ContainerStop(_ context.Context, id string, _ container.StopOptions) error {
	return f.setState(id, "stop", "exited")
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return fmt.Errorf("no container %s: %w", id, cerrdefs.ErrNotFound)
	}
	f.record("remove %s", c.Name)
	delete(f.containers, c.ID)
	return nil
}

func (f *fakeDocker) CopyToContainer(_ context.Context, id, dst string, r io.Reader, _ container.CopyToContainerOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return fmt.Errorf("no container %s: %w", id, cerrdefs.ErrNotFound)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.Copied = append(c.Copied, dst)
	if v := mountedVolume(c); v != "" {
		f.loaded[v] = append(f.loaded[v], data)
	}
	return nil
}

// mountedVolume is the volume a container mounts, or "".
func mountedVolume(c *fakeContainer) string {
	if c.Host == nil || len(c.Host.Mounts) == 0 {
		return ""
	}
	return c.Host.Mounts[0].Source
}

func (f *fakeDocker) CopyFromContainer(_ context.Context, id, src string) (io.ReadCloser, container.PathStat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return nil, container.PathStat{}, fmt.Errorf("no container %s: %w", id, cerrdefs.ErrNotFound)
	}
	f.record("read %s %s", c.Name, src)
	if f.volumeReader != nil {
		return io.NopCloser(f.volumeReader()), container.PathStat{}, nil
	}
	return io.NopCloser(bytes.NewReader(f.volumeTar[mountedVolume(c)])), container.PathStat{}, nil
}

func (f *fakeDocker) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.volumes[name]; !ok {
		return volume.Volume{}, fmt.Errorf("volume %s: %w", name, cerrdefs.ErrNotFound)
	}
	return volume.Volume{Name: name}, nil
}

func (f *fakeDocker) VolumeRemove(_ context.Context, name string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.volumes[name]; !ok {
		if force {
			return nil // as the engine does: force hides "no such volume"
		}
		return fmt.Errorf("volume %s: %w", name, cerrdefs.ErrNotFound)
	}
	for _, c := range f.containers {
		if mountedVolume(c) == name {
			return fmt.Errorf("volume %s is in use by %s: %w", name, c.Name, cerrdefs.ErrConflict)
		}
	}
	delete(f.volumes, name)
	f.record("volume remove %s", name)
	return nil
}

func (f *fakeDocker) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; ok {
		return network.CreateResponse{}, fmt.Errorf("network %s: %w", name, cerrdefs.ErrConflict)
	}
	f.networks[name] = o.Labels
	f.record("network create %s", name)
	return network.CreateResponse{ID: name}, nil
}

func (f *fakeDocker) NetworkInspect(_ context.Context, name string, _ network.InspectOptions) (network.Inspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; !ok {
		return network.Inspect{}, fmt.Errorf("network %s: %w", name, cerrdefs.ErrNotFound)
	}
	return network.Inspect{Name: name}, nil
}

func (f *fakeDocker) NetworkRemove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; !ok {
		return fmt.Errorf("network %s: %w", name, cerrdefs.ErrNotFound)
	}
	delete(f.networks, name)
	f.record("network remove %s", name)
	return nil
}

func (f *fakeDocker) VolumeCreate(_ context.Context, o volume.CreateOptions) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.volumes[o.Name]; !ok {
		f.volumes[o.Name] = o.Labels
	}
	return volume.Volume{Name: o.Name}, nil
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return image.InspectResponse{}, fmt.Errorf("no such image %s: %w", ref, cerrdefs.ErrNotFound)
	}
	return image.InspectResponse{ID: ref}, nil
}
