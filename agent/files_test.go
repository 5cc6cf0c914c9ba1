package agent

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/profile"
)

func TestVolumeTar(t *testing.T) {
	files := []profile.RenderedFile{
		{Path: "openclaw.json", Mode: 0o600, Data: []byte(`{"a":1}`)},
		{Path: "conf/deep/x.txt", Mode: 0o644, Data: []byte("x")},
	}
	dst, b, err := volumeTar("/home/node/.openclaw/", "1000:1001", files, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if dst != "/home/node/" {
		t.Errorf("dst = %q, want the mount point's parent", dst)
	}
	type entry struct {
		mode int64
		data string
	}
	got := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 1000 || h.Gid != 1001 {
			t.Errorf("%s owned by %d:%d, want 1000:1001", h.Name, h.Uid, h.Gid)
		}
		data, _ := io.ReadAll(tr)
		got[h.Name] = entry{h.Mode, string(data)}
	}
	want := map[string]entry{
		".openclaw/":                {0o750, ""},
		".openclaw/openclaw.json":   {0o600, `{"a":1}`},
		".openclaw/conf/":           {0o755, ""},
		".openclaw/conf/deep/":      {0o755, ""},
		".openclaw/conf/deep/x.txt": {0o644, "x"},
	}
	if len(got) != len(want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %+v, want %+v", name, got[name], w)
		}
	}
}

func TestVolumeTarRefuses(t *testing.T) {
	cases := []struct {
		name, volume, user, path string
	}{
		{"absolute path", "/data", "1000:1000", "/etc/passwd"},
		{"escaping path", "/data", "1000:1000", "../other/x"},
		{"user name instead of uid", "/data", "node", "a"},
		{"negative uid", "/data", "-1:0", "a"},
		{"volume at the root", "/", "1000:1000", "a"},
		{"relative volume path", "data", "1000:1000", "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := volumeTar(c.volume, c.user, []profile.RenderedFile{{Path: c.path, Mode: 0o600}}, time.Unix(0, 0))
			if err == nil {
				t.Errorf("volumeTar(%q, %q, %q) = nil error", c.volume, c.user, c.path)
			}
		})
	}
}
