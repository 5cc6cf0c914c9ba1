package profile

import (
	"strings"
	"testing"
)

func TestRenderFailsOnMissingVars(t *testing.T) {
	tests := []struct {
		name, profile, field string
		clear                func(*Vars)
	}{
		{"echo without token", "echo", "BotToken", func(v *Vars) { v.BotToken = "" }},
		{"echo without secret", "echo", "WebhookSecret", func(v *Vars) { v.WebhookSecret = "" }},
		{"echo without api root", "echo", "APIRoot", func(v *Vars) { v.APIRoot = "" }},
		{"echo without tenant", "echo", "TenantID", func(v *Vars) { v.TenantID = "" }},
		{"openclaw without secret", "openclaw", "WebhookSecret", func(v *Vars) { v.WebhookSecret = "" }},
		{"openclaw without owner", "openclaw", "OwnerUserID", func(v *Vars) { v.OwnerUserID = 0 }},
		{"openclaw without heap", "openclaw", "HeapMiB", func(v *Vars) { v.HeapMiB = 0 }},
		{"openclaw without tier", "openclaw", "Tier", func(v *Vars) { v.Tier = "" }},
		{"openclaw without gateway token", "openclaw", "GatewayToken", func(v *Vars) { v.GatewayToken = "" }},
		{"openclaw without api root", "openclaw", "APIRoot", func(v *Vars) { v.APIRoot = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup(tt.profile)
			v := fullVars()
			tt.clear(&v)
			_, _, err := p.Render(v)
			if err == nil {
				t.Fatal("render succeeded")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			for _, s := range []string{v.BotToken, v.WebhookSecret, v.GatewayToken} {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a secret: %q", err)
				}
			}
		})
	}
}

func TestRenderUnknownFieldAndHeap(t *testing.T) {
	p, _ := Lookup("echo")
	p.Env = map[string]string{"X": "{{.NoSuchField}}"}
	if _, _, err := p.Render(fullVars()); err == nil {
		t.Error("a template naming an unknown field rendered")
	}
	oc, _ := Lookup("openclaw")
	v := fullVars()
	v.HeapMiB = 1024
	if _, _, err := oc.Render(v); err == nil || !strings.Contains(err.Error(), "heap") {
		t.Errorf("a heap cap at the memory limit rendered: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Profile)
		want   string
	}{
		{"latest tag", func(p *Profile) { p.Image = "zaki-echo:latest" }, "pinned"},
		{"no tag", func(p *Profile) { p.Image = "ghcr.io/x/y" }, "pinned"},
		{"registry port is not a tag", func(p *Profile) { p.Image = "localhost:5000/echo" }, "pinned"},
		{"root", func(p *Profile) { p.User = "0:0" }, "root"},
		{"named user", func(p *Profile) { p.User = "node" }, "numeric"},
		{"port", func(p *Profile) { p.WebhookPort = 0 }, "webhook port"},
		{"path", func(p *Profile) { p.ReadyPath = "readyz" }, "ready path"},
		{"timeout", func(p *Profile) { p.ReadyTimeout = 0 }, "ready_timeout"},
		{"volume root", func(p *Profile) { p.VolumePath = "/" }, "volume_path"},
		{"no memory", func(p *Profile) { p.MemoryBytes = 0 }, "limits"},
		{"inline secret", func(p *Profile) { p.Env["ZAKI_ECHO_BOT_TOKEN"] = "123:abc" }, "secret"},
		{"secret beside a template", func(p *Profile) { p.Env["API_KEY"] = "x{{.BotToken}}" }, "secret"},
		{"bad env name", func(p *Profile) { p.Env["1X"] = "a" }, "env name"},
		{"bad template", func(p *Profile) { p.Env["X"] = "{{.A" }, "env X"},
		{"file escapes", func(p *Profile) { p.Files = []File{{Path: "../x", Template: "a"}} }, "inside the volume"},
		{"absolute file", func(p *Profile) { p.Files = []File{{Path: "/etc/x", Template: "a"}} }, "inside the volume"},
		{"setuid file", func(p *Profile) { p.Files = []File{{Path: "x", Mode: 0o4755, Template: "a"}} }, "permission bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup("echo")
			env := map[string]string{}
			for k, v := range p.Env {
				env[k] = v
			}
			p.Env = env
			tt.mutate(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
