package profile

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite deploy/profiles/*.profile.json from the built-ins")

// fullVars fills every field, with recognisable secret values.
func fullVars() Vars {
	return Vars{
		TenantID:        "u4611686018427387904",
		OwnerUserID:     4611686018427387904, // above 2^53: must stay exact
		ChatIDs:         []int64{4611686018427387904, -1001234567890},
		Tier:            "free",
		WebhookSecret:   "WEBHOOKSECRETwebhooksecret",
		BotToken:        "123456:PSEUDOTOKENpseudotoken",
		APIRoot:         "http://172.17.0.1:7480",
		HeapMiB:         768,
		MoonshotAPIKey:  "sk-moonshot-SECRET",
		AnthropicAPIKey: "sk-ant-SECRET",
		GatewayToken:    "GATEWAYTOKENgatewaytoken",
	}
}

func TestBuiltinsValidate(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			p, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name {
				t.Errorf("Lookup(%q).Name = %q", name, p.Name)
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := p.Render(fullVars()); err != nil {
				t.Fatalf("render: %v", err)
			}
		})
	}
	if _, err := Lookup("nope"); err == nil {
		t.Fatal("Lookup of an unknown profile succeeded")
	}
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	if err := json.Unmarshal([]byte(`"90s"`), &d); err != nil || d.D() != 90*time.Second {
		t.Fatalf("unmarshal 90s = %v, %v", d, err)
	}
	b, err := json.Marshal(Duration(2 * time.Minute))
	if err != nil || string(b) != `"2m0s"` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	for _, bad := range []string{`90`, `"ninety"`, `null`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s succeeded", bad)
		}
	}
}

func TestProfileJSONRoundTrip(t *testing.T) {
	for _, name := range Names() {
		p, _ := Lookup(name)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Profile
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("%s: round trip changed the profile:\n%s\n%s", name, b, b2)
		}
	}
}

// TestProfilesGolden keeps deploy/profiles/*.profile.json, the operator-readable
// copies, in step with the built-ins (go test ./profile -update rewrites).
func TestProfilesGolden(t *testing.T) {
	for _, name := range Names() {
		p, _ := Lookup(name)
		want, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		path := filepath.Join("..", "deploy", "profiles", name+".profile.json")
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale or missing; run go test ./profile -update", path)
		}
	}
}

func TestNoSecretInProfiles(t *testing.T) {
	v := fullVars()
	secrets := []string{v.WebhookSecret, v.BotToken, v.MoonshotAPIKey, v.AnthropicAPIKey, v.GatewayToken}
	for _, name := range Names() {
		p, _ := Lookup(name)
		b, _ := json.Marshal(p)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret value", name)
			}
		}
		for k, tmpl := range p.Env {
			if secretish.MatchString(k) && !isPureTemplate(tmpl) {
				t.Errorf("%s: env %s is not a template", name, k)
			}
		}
	}
}

func TestEchoRender(t *testing.T) {
	p, _ := Lookup("echo")
	v := fullVars()
	env, files, err := p.Render(v)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ZAKI_ECHO_API_ROOT=" + v.APIRoot,
		"ZAKI_ECHO_BOT_TOKEN=" + v.BotToken,
		"ZAKI_ECHO_TENANT=" + v.TenantID,
		"ZAKI_ECHO_WEBHOOK_SECRET=" + v.WebhookSecret,
	}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Fatalf("env = %q, want %q", env, want)
	}
	if len(files) != 0 {
		t.Fatalf("echo renders files: %v", files)
	}
	if p.Image != "zaki-echo:v1" || p.WebhookPort != 8787 || p.ReadyPath != "/readyz" {
		t.Fatalf("echo contract changed: %+v", p)
	}
}

func TestLookupReturnsACopy(t *testing.T) {
	p, _ := Lookup("echo")
	p.Env["ZAKI_ECHO_TENANT"] = "changed"
	again, _ := Lookup("echo")
	if again.Env["ZAKI_ECHO_TENANT"] != "{{.TenantID}}" {
		t.Fatal("changing a looked-up profile changed the built-in")
	}
}
