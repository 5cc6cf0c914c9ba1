package profile

import (
	"fmt"
	"sort"
)

// builtins are the profiles every Zaki binary knows.
var builtins = map[string]Profile{}

// Lookup returns the built-in profile called name.
func Lookup(name string) (Profile, error) {
	p, ok := builtins[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown assistant profile %q (known: %v)", name, Names())
	}
	return p, nil
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
