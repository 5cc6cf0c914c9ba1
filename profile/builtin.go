package profile

import (
	"fmt"
	"sort"
)

// builtins are the profiles every Zaki binary knows; this map is their one
// source of truth (deploy/profiles/*.profile.json are generated from it for readers).
var builtins = map[string]Profile{
	"echo":     echoProfile(),
	"openclaw": openclawProfile(),
}

// Lookup returns a copy of the built-in profile called name; changing the
// copy's maps and slices leaves the built-in alone.
func Lookup(name string) (Profile, error) {
	p, ok := builtins[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown assistant profile %q (known: %v)", name, Names())
	}
	return p.clone(), nil
}

func (p Profile) clone() Profile {
	p.Cmd = append([]string(nil), p.Cmd...)
	p.Files = append([]File(nil), p.Files...)
	env := make(map[string]string, len(p.Env))
	for k, v := range p.Env {
		env[k] = v
	}
	p.Env = env
	return p
}

// Names lists the built-in profiles, sorted.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
