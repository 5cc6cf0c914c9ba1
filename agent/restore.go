package agent

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// restore fills the tenant's volume from the move's source, for a want with
// restore_from when no container of its generation exists here. Every
// attempt starts clean: old containers, loaders and partial copies go, the
// whole volume is pulled again, and the tenant's volume is wiped before the
// copy is loaded. Only after it returns nil may the container be created.
func (w *worker) restore(ctx context.Context, want *zakiv1.Assignment, p profile.Profile, found []observed) error {
	// A missing image is not the copy's fault; say so plainly.
	if err := w.a.eng.checkImage(ctx, p.Image); err != nil {
		return err
	}
	src := want.GetRestoreFrom().GetNodeId()
	w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_STARTING, "copying the volume from node "+src, "")
	n, err := w.copyVolume(ctx, want, p, found)
	if err != nil {
		if ctx.Err() == nil {
			w.a.m.restores.WithLabelValues("failed").Inc()
		}
		return fmt.Errorf("copy volume of tenant %s from node %s: %w", w.tenant, src, err)
	}
	w.a.m.restores.WithLabelValues("ok").Inc()
	w.log.Info("volume restored", "from_node", src, "generation", want.GetGeneration(), "bytes", n)
	return nil
}

// copyVolume does restore's steps; each error names its step.
func (w *worker) copyVolume(ctx context.Context, want *zakiv1.Assignment, p profile.Profile,
	found []observed) (int64, error) {
	e := w.a.eng
	for _, c := range found {
		w.log.Info("removing container before the copy", "generation", c.Generation)
		if err := e.remove(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	if err := e.removeLoaders(ctx, w.tenant); err != nil {
		return 0, err
	}
	f, n, err := w.pullVolume(ctx, want)
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	if err := rewind(f, func(r io.Reader) error { return checkVolumeTar(r, volumeBase(p.VolumePath)) }); err != nil {
		return 0, err
	}
	if err := e.wipeVolume(ctx, w.tenant); err != nil {
		return 0, err
	}
	if err := rewind(f, func(r io.Reader) error { return e.load(ctx, w.tenant, p, r) }); err != nil {
		return 0, err
	}
	return n, nil
}

// rewind runs fn over f from its start.
func rewind(f *os.File, fn func(io.Reader) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read back %s: %w", f.Name(), err)
	}
	return fn(f)
}

// volumeBase is the top entry of a volume's tar: its mount path's base name.
func volumeBase(volumePath string) string { return path.Base(path.Clean(volumePath)) }

// checkVolumeTar reads a pulled volume through and checks that it is what
// the load expects: a tar whose first entry is the directory base and whose
// every entry (and hard link target) lies inside it. A copy made for
// another profile's path, or a hostile one, is refused before the tenant's
// volume is wiped.
func checkVolumeTar(r io.Reader, base string) error {
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i == 0 {
				return errors.New("check the copy: it is empty")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("check the copy: entry %d: %w", i, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		switch {
		case i == 0 && (name != base || h.Typeflag != tar.TypeDir):
			return fmt.Errorf("check the copy: its top entry is %q, want the directory %q "+
				"(do both nodes run the same profile version?)", h.Name, base+"/")
		case !inside(name, base):
			return fmt.Errorf("check the copy: entry %q lies outside %q", h.Name, base)
		case h.Typeflag == tar.TypeLink && !inside(h.Linkname, base):
			return fmt.Errorf("check the copy: hard link %q points outside %q", h.Name, base)
		}
	}
}

// inside reports whether a tar entry name is base or below it, with no ".."
// step that could climb out.
func inside(name, base string) bool {
	name = strings.TrimSuffix(name, "/")
	if name != base && !strings.HasPrefix(name, base+"/") {
		return false
	}
	return !slices.Contains(strings.Split(name, "/"), "..")
}
