package profile

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

var (
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// secretish names an env variable that must be a template, never a value.
	secretish = regexp.MustCompile(`(?i)(TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL)`)
)

// Validate checks that p can run a container safely: a pinned image, a
// numeric non-root user, ports and absolute paths, positive limits, env and
// file templates that parse, and secret-looking variables given only as
// templates over Vars. It reports every problem it finds at once.
func (p Profile) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if p.Name == "" {
		add("name is empty")
	}
	if err := checkImage(p.Image); err != nil {
		errs = append(errs, err)
	}
	if err := checkUser(p.User); err != nil {
		errs = append(errs, err)
	}
	for _, pp := range []struct {
		what string
		port int
		path string
	}{
		{"webhook", p.WebhookPort, p.WebhookPath},
		{"health", p.HealthPort, p.HealthPath},
		{"ready", p.ReadyPort, p.ReadyPath},
	} {
		if pp.port < 1 || pp.port > 65535 {
			add("%s port %d is out of range", pp.what, pp.port)
		}
		if !strings.HasPrefix(pp.path, "/") {
			add("%s path %q must start with /", pp.what, pp.path)
		}
	}
	if p.ReadyTimeout <= 0 {
		add("ready_timeout must be positive")
	}
	if !path.IsAbs(p.VolumePath) || path.Clean(p.VolumePath) == "/" {
		add("volume_path %q must be an absolute path below /", p.VolumePath)
	}
	if p.MemoryBytes < 16<<20 || p.NanoCPUs <= 0 || p.PidsLimit <= 0 {
		add("limits must be set: memory >= 16 MiB, CPUs and pids > 0")
	}
	errs = append(errs, p.checkEnv()...)
	errs = append(errs, p.checkFiles()...)
	if len(errs) > 0 {
		return fmt.Errorf("profile %q: %w", p.Name, errors.Join(errs...))
	}
	return nil
}

// checkImage wants a tag or digest other than "latest": an image that can
// change under a running fleet makes restarts unrepeatable.
func checkImage(ref string) error {
	if ref == "" {
		return errors.New("image is empty")
	}
	if strings.Contains(ref, "@sha256:") {
		return nil
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	i := strings.LastIndex(name, ":")
	if i < 0 || name[i+1:] == "" || name[i+1:] == "latest" {
		return fmt.Errorf("image %q must be pinned to a version tag or digest", ref)
	}
	return nil
}

func checkUser(u string) error {
	uid, gid, ok := strings.Cut(u, ":")
	un, err1 := strconv.ParseUint(uid, 10, 32)
	_, err2 := strconv.ParseUint(gid, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("user %q must be numeric uid:gid", u)
	}
	if un == 0 {
		return errors.New("user must not be root (uid 0)")
	}
	return nil
}

func (p Profile) checkEnv() []error {
	var errs []error
	for k, v := range p.Env {
		if !envName.MatchString(k) {
			errs = append(errs, fmt.Errorf("env name %q is invalid", k))
		}
		if _, err := template.New(k).Funcs(funcs).Parse(v); err != nil {
			errs = append(errs, fmt.Errorf("env %s: %w", k, err))
		}
		if secretish.MatchString(k) && !isPureTemplate(v) {
			errs = append(errs, fmt.Errorf("env %s looks secret and must be a template over Vars, not a value", k))
		}
	}
	return errs
}

// isPureTemplate reports whether v is a single {{...}} action and nothing
// else, so no literal can hide in it.
func isPureTemplate(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}") && strings.Count(v, "{{") == 1
}

func (p Profile) checkFiles() []error {
	var errs []error
	seen := map[string]bool{}
	for _, f := range p.Files {
		clean := path.Clean(f.Path)
		if f.Path == "" || path.IsAbs(f.Path) || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
			errs = append(errs, fmt.Errorf("file path %q must be relative and inside the volume", f.Path))
		}
		if seen[clean] {
			errs = append(errs, fmt.Errorf("file %q is listed twice", f.Path))
		}
		seen[clean] = true
		if f.Mode&^0o777 != 0 {
			errs = append(errs, fmt.Errorf("file %q: mode %o has more than permission bits", f.Path, f.Mode))
		}
		if _, err := template.New(f.Path).Funcs(funcs).Parse(f.Template); err != nil {
			errs = append(errs, fmt.Errorf("file %s: %w", f.Path, err))
		}
	}
	return errs
}
