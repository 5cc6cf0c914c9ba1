package agent

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/zaki-platform/zaki/profile"
)

// volumeTar is a tar of the rendered files for CopyToContainer, every entry
// owned by user ("uid:gid"), to be extracted at dst, the parent of the
// volume's mount path. Its first entry is the mount point itself: the only
// way a copy can chown the volume's root (an entry "./" leaves it root-owned,
// tried on Engine 20.10), so a fresh volume is writable by the container's
// unprivileged user even when the image has no such directory.
func volumeTar(volumePath, user string, files []profile.RenderedFile,
	now time.Time) (dst string, tarball []byte, err error) {
	uid, gid, err := parseUser(user)
	if err != nil {
		return "", nil, err
	}
	volumePath = path.Clean(volumePath)
	if !path.IsAbs(volumePath) || volumePath == "/" {
		return "", nil, fmt.Errorf("volume path %q must be an absolute path below /", volumePath)
	}
	dst, root := path.Split(volumePath)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	addDir := func(name string, mode int64) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode,
			Uid: uid, Gid: gid, ModTime: now})
	}
	// The tenant's data is for the tenant's process alone.
	if err := addDir(root, 0o750); err != nil {
		return "", nil, err
	}
	for _, f := range files {
		name := path.Clean(f.Path)
		if path.IsAbs(name) || name == "." || strings.HasPrefix(name, "../") || name == ".." {
			return "", nil, fmt.Errorf("rendered file %q must stay inside the volume", f.Path)
		}
		// Parents first, so they are owned by the user too.
		parts := strings.Split(name, "/")
		for i := 1; i < len(parts); i++ {
			if err := addDir(root+"/"+strings.Join(parts[:i], "/"), 0o755); err != nil {
				return "", nil, err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: root + "/" + name, Mode: int64(f.Mode.Perm()),
			Size: int64(len(f.Data)), Uid: uid, Gid: gid, ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return "", nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return "", nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", nil, err
	}
	return dst, buf.Bytes(), nil
}

// parseUser reads "uid:gid" (or "uid", with gid = uid); names are refused
// because the tar entries need numbers.
func parseUser(user string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(user, ":")
	if !ok {
		g = u
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("profile user %q must be numeric uid:gid", user)
	}
	return uid, gid, nil
}
