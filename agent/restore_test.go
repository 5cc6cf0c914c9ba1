package agent

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// tarOf is a tar of the given headers, each regular file holding its name.
func tarOf(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(h.Name))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func dir(name string) *tar.Header { return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o750} }
func file(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600}
}

func TestCheckVolumeTar(t *testing.T) {
	link := &tar.Header{Typeflag: tar.TypeLink, Name: "data/l", Linkname: "etc/passwd"}
	cases := []struct {
		name string
		tar  []byte
		want string // "" = accepted
	}{
		{"a volume", tarOf(t, dir("data/"), dir("data/conf/"), file("data/conf/x.json"), file("data/log")), ""},
		{"an empty volume", tarOf(t, dir("data/")), ""},
		{"nothing at all", tarOf(t), "empty"},
		{"not a tar", []byte(strings.Repeat("x", 1024)), "check the copy"},
		{"another profile's path", tarOf(t, dir("state/"), file("state/x")), `top entry is "state/"`},
		{"a file on top", tarOf(t, file("data")), "want the directory"},
		{"an entry outside", tarOf(t, dir("data/"), file("other/x")), "lies outside"},
		{"a prefix is not inside", tarOf(t, dir("data/"), file("database")), "lies outside"},
		{"climbing out", tarOf(t, dir("data/"), file("data/../../etc/x")), "lies outside"},
		{"a hard link out", tarOf(t, dir("data/"), link), "points outside"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkVolumeTar(bytes.NewReader(tc.tar), "data")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
