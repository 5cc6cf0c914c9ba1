package profile

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"text/template"
)

// RenderedFile is one of a profile's Files rendered for one tenant.
type RenderedFile struct {
	// Path is relative to the profile's VolumePath.
	Path string
	// Mode is the file mode (0600 when the profile left it 0).
	Mode fs.FileMode
	// Data is the rendered content. It may hold secrets: never log it.
	Data []byte
}

// Render fills the profile's Env and Files templates with v. env is sorted
// "K=V" pairs, ready for a container config; a variable that renders empty
// is left out. A template that names a field Vars lacks fails, and so does
// one that uses a Vars field left empty (other than the optional model keys),
// so a half-filled Vars never starts a container. Errors name the variable or
// file and the field, never the values.
func (p Profile) Render(v Vars) (env []string, files []RenderedFile, err error) {
	if p.usesVar("HeapMiB") && v.HeapMiB<<20 >= p.MemoryBytes {
		return nil, nil, fmt.Errorf("profile %s: heap cap %d MiB must be below the memory limit %d MiB",
			p.Name, v.HeapMiB, p.MemoryBytes>>20)
	}
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val, err := execute("env "+k, p.Env[k], v)
		if err != nil {
			return nil, nil, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		if len(val) == 0 {
			continue // an unset optional value (a model key) stays unset
		}
		env = append(env, k+"="+string(val))
	}
	for _, f := range p.Files {
		data, err := execute("file "+f.Path, f.Template, v)
		if err != nil {
			return nil, nil, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		mode := fs.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o600
		}
		files = append(files, RenderedFile{Path: f.Path, Mode: mode, Data: data})
	}
	return env, files, nil
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	// json writes a value as a JSON literal, so strings are quoted and
	// escaped and int64 ids stay exact.
	"json": toJSON,
	// telegramGroups writes the group chats among ids (negative ids) as an
	// OpenClaw channels.telegram.groups object, each open to its members
	// when they mention the bot.
	"telegramGroups": telegramGroups,
}

func execute(name, text string, v Vars) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: bad template: %w", name, err)
	}
	if err := checkUsed(name, t.Tree, v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		// The execution error quotes template text, never the values.
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// usesVar reports whether any of p's templates uses the Vars field name.
func (p Profile) usesVar(name string) bool {
	texts := make([]string, 0, len(p.Env)+len(p.Files))
	for _, t := range p.Env {
		texts = append(texts, t)
	}
	for _, f := range p.Files {
		texts = append(texts, f.Template)
	}
	for _, text := range texts {
		t, err := template.New("").Funcs(funcs).Parse(text)
		if err != nil {
			continue // Render reports it
		}
		for _, f := range fieldsUsed(t.Root) {
			if f == name {
				return true
			}
		}
	}
	return false
}
