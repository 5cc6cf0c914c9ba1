package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// expectation is what the test sent: every update id per tenant, and every
// reply each chat must get.
type expectation struct {
	ids     map[string][]int64        // tenant -> update ids, in the order sent
	replies map[int64]map[string]bool // chat -> reply texts
}

func newExpectation() *expectation {
	return &expectation{ids: map[string][]int64{}, replies: map[int64]map[string]bool{}}
}

func (e *expectation) add(tenant int64, id int64, chat int64, text string) {
	key := strconv.FormatInt(tenant, 10)
	e.ids[key] = append(e.ids[key], id)
	if text == "" {
		return
	}
	if e.replies[chat] == nil {
		e.replies[chat] = map[string]bool{}
	}
	e.replies[chat]["echo: "+text] = true
}

// TestMainJobEndToEnd: three people and a group talk to the bot through the
// router; each person's echo container receives only its own updates, each
// exactly once; replies reach the right chats only; the agent is killed and
// restarted mid-traffic without a duplicate, an orphan or a lost update.
func TestMainJobEndToEnd(t *testing.T) {
	c := startCluster(t)
	c.checkCtlJoin()
	u, want := newUpdates(), newExpectation()
	people := []int64{mina, omar, lena}

	say := func(user int64, text string) {
		id, body := u.private(user, text)
		c.send(id, body)
		want.add(user, id, user, text)
	}
	sayInGroup := func(from int64, text string) {
		id, body := u.groupText(from, text)
		c.send(id, body)
		want.add(group, id, group, text)
	}

	for _, p := range people {
		say(p, "/start")
	}
	id, body := u.groupAdded(mina)
	c.send(id, body)
	want.add(group, id, group, "")
	sayInGroup(omar, "what should we cook tonight?")
	c.waitForReplies(want, 90*time.Second)

	before := c.containerIDs()
	for round := range 30 {
		switch round {
		case 10:
			c.agent.kill()
		case 20:
			c.restartAgent()
		}
		for _, p := range people {
			say(p, fmt.Sprintf("round %d from %s", round, names[p]))
		}
		sayInGroup(people[round%3], fmt.Sprintf("round %d in the group", round))
	}
	c.waitForReplies(want, 90*time.Second)

	t.Run("each container received its own updates exactly once", func(t *testing.T) {
		c.checkReceived(t, want)
	})
	t.Run("replies went to the right chats and nowhere else", func(t *testing.T) {
		c.checkReplies(t, want)
	})
	t.Run("one container per tenant, no orphans", func(t *testing.T) {
		c.checkContainers(t, want)
	})
	t.Run("the restarted agent adopted every container", func(t *testing.T) {
		if after := c.containerIDs(); !maps.Equal(before, after) {
			t.Errorf("containers before the kill %v, after the restart %v", before, after)
		}
	})
	t.Run("bad input", func(t *testing.T) { c.checkBadInput(t, u, want) })
	t.Run("a tenant that cannot start shows why and keeps its updates", func(t *testing.T) {
		c.checkFailedTenant(t, u)
	})
	t.Run("no secret in any log line", func(t *testing.T) { c.checkNoSecretsLogged(t) })
}

func (c *cluster) waitForReplies(want *expectation, timeout time.Duration) {
	c.t.Helper()
	waitUntil(c.t, timeout, "every reply", func() error {
		got := c.replies()
		for chat, texts := range want.replies {
			for text := range texts {
				if !got[chat][text] {
					return fmt.Errorf("chat %d has no reply %q yet", chat, text)
				}
			}
		}
		return nil
	})
}

// replies is what the containers sent through the Bot API front, by chat.
func (c *cluster) replies() map[int64]map[string]bool {
	got := map[int64]map[string]bool{}
	for _, call := range c.standin.Calls() {
		if call.Method != "sendMessage" {
			continue
		}
		if got[call.ChatID] == nil {
			got[call.ChatID] = map[string]bool{}
		}
		got[call.ChatID][call.Text] = true
	}
	return got
}

func (c *cluster) checkReceived(t *testing.T, want *expectation) {
	cs := c.containers()
	for tenant, ids := range want.ids {
		if len(cs[tenant]) != 1 {
			t.Errorf("tenant %s has %d containers, want 1", tenant, len(cs[tenant]))
			continue
		}
		got, err := c.received(cs[tenant][0].ID)
		if err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
		// Each update was sent only after the previous one was answered, so
		// the container must have them all, once each, in that order.
		if !slices.Equal(got, ids) {
			t.Errorf("tenant %s received %d updates %v\nwant %d in order %v", tenant, len(got), got, len(ids), ids)
		}
	}
}

func (c *cluster) checkReplies(t *testing.T, want *expectation) {
	for _, call := range c.standin.Calls() {
		if call.Method != "sendMessage" {
			continue
		}
		if !want.replies[call.ChatID][call.Text] {
			t.Errorf("unexpected reply to chat %d: %q", call.ChatID, call.Text)
		}
	}
}

// containerIDs maps each tenant to its one container's id.
func (c *cluster) containerIDs() map[string]string {
	ids := map[string]string{}
	for tenant, list := range c.containers() {
		for _, s := range list {
			ids[tenant] += s.ID
		}
	}
	return ids
}

func (c *cluster) checkContainers(t *testing.T, want *expectation) {
	cs := c.containers()
	for tenant, list := range cs {
		if _, ok := want.ids[tenant]; !ok {
			t.Errorf("orphan container for tenant %q: %s", tenant, list[0].Names)
		}
		if len(list) != 1 {
			t.Errorf("tenant %s has %d containers", tenant, len(list))
		}
		for _, s := range list {
			if s.State != "running" {
				t.Errorf("tenant %s container %s is %s", tenant, s.Names, s.State)
			}
		}
	}
	if len(cs) != len(want.ids) {
		t.Errorf("%d tenant containers, want %d", len(cs), len(want.ids))
	}
}

func (c *cluster) checkBadInput(t *testing.T, u *updates, want *expectation) {
	wrongID, wrongBody := u.private(mina, "sent with a wrong secret")
	if code := c.post("not-the-secret", wrongBody); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", code)
	}
	if code := c.post("", wrongBody); code != http.StatusUnauthorized {
		t.Errorf("no secret: %d, want 401", code)
	}
	if code := c.post(c.secret, []byte(`{"update_id": 12, "message": {`)); code != http.StatusBadRequest {
		t.Errorf("malformed body: %d, want 400", code)
	}
	before := metric(t, c.router.opsAddr, "zaki_router_updates_unknown_type_total")
	unknown := fmt.Appendf(nil, `{"update_id":%d,"brand_new_update_kind":{"chat":{"id":%d}}}`, u.id(), mina)
	if code := c.post(c.secret, unknown); code/100 != 2 {
		t.Errorf("unknown update type: %d, want 2xx", code)
	}
	if after := metric(t, c.router.opsAddr, "zaki_router_updates_unknown_type_total"); after != before+1 {
		t.Errorf("unknown-type counter went from %v to %v, want +1", before, after)
	}
	// A later good update for the same chat arrives; the rejected one never does.
	id, body := u.private(mina, "after the bad ones")
	c.send(id, body)
	want.add(mina, id, mina, "after the bad ones")
	c.waitForReplies(want, 30*time.Second)
	got, err := c.received(c.containers()[strconv.FormatInt(mina, 10)][0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, wrongID) {
		t.Errorf("update %d sent with a wrong secret reached the container", wrongID)
	}
}

// checkFailedTenant makes a new person's container fail to start by holding
// the host port the scheduler will give it, then frees the port.
func (c *cluster) checkFailedTenant(t *testing.T, u *updates) {
	used := map[int]bool{}
	for _, list := range c.containers() {
		for _, p := range list[0].Ports {
			used[int(p.PublicPort)] = true
		}
	}
	next := c.portMin
	for used[next] {
		next++
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(next)))
	if err != nil {
		t.Fatalf("hold port %d: %v", next, err)
	}
	defer ln.Close()

	const newcomer int64 = 7300000099
	names[newcomer] = "Noor"
	id, body := u.private(newcomer, "hello from a blocked port")
	c.send(id, body)
	tenant := strconv.FormatInt(newcomer, 10)
	waitUntil(t, 90*time.Second, "the newcomer's tenant to show failed", func() error {
		out := c.ctl("tenants")
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, tenant+" ") && strings.Contains(line, "failed") {
				return nil
			}
		}
		return fmt.Errorf("zaki ctl tenants:\n%s", out)
	})
	out := c.ctl("tenants")
	t.Logf("zaki ctl tenants while the port is held:\n%s", out)
	if !strings.Contains(out, strconv.Itoa(next)) {
		t.Errorf("ctl tenants does not name the port %d:\n%s", next, out)
	}
	if parked := c.parkedUpdates(tenant); parked != 1 {
		t.Errorf("zaki ctl tenants -o json shows %d parked updates for %s, want 1", parked, tenant)
	}
	if got := c.replies()[newcomer]; len(got) != 0 {
		t.Errorf("a failed tenant replied: %v", got)
	}

	ln.Close()
	want := map[int64]map[string]bool{newcomer: {"echo: hello from a blocked port": true}}
	c.waitForReplies(&expectation{replies: want}, 120*time.Second)
}

// parkedUpdates reads a tenant's parked count from `zaki ctl tenants -o json`.
func (c *cluster) parkedUpdates(tenant string) int {
	c.t.Helper()
	var out struct {
		Tenants []struct {
			Tenant        struct{ ID string }
			ParkedUpdates int
		}
	}
	js := c.ctl("tenants", "-o", "json")
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		c.t.Fatalf("zaki ctl tenants -o json is not JSON: %v\n%s", err, js)
	}
	for _, ts := range out.Tenants {
		if ts.Tenant.ID == tenant {
			return ts.ParkedUpdates
		}
	}
	c.t.Fatalf("tenant %s not in zaki ctl tenants -o json:\n%s", tenant, js)
	return 0
}

func (c *cluster) checkNoSecretsLogged(t *testing.T) {
	secrets := map[string]string{"bot token": c.standin.Token(), "webhook secret": c.secret}
	for tenant, list := range c.containers() {
		info, err := c.docker.ContainerInspect(t.Context(), list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range info.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			if strings.Contains(k, "TOKEN") || strings.Contains(k, "SECRET") {
				secrets[tenant+" "+k] = v
				if _, s, ok := strings.Cut(v, ":"); ok {
					secrets[tenant+" "+k+" secret part"] = s
				}
			}
		}
	}
	for i, tok := range c.tokens {
		secrets[fmt.Sprintf("join token %d", i)] = tok
		secrets[fmt.Sprintf("join token %d secret part", i)] = tok[strings.LastIndex(tok, ".")+1:]
	}
	for what, dir := range map[string]string{"agent": c.agentState, "router": c.routerState,
		"admin": filepath.Join(c.cpDataDir, "admin"), "controlplane": c.cpDataDir} {
		for name, s := range privateKeys(t, dir) {
			secrets[what+" private key "+name] = s
		}
	}
	if len(secrets) < 10 {
		t.Fatalf("found only %d secrets to look for", len(secrets))
	}
	all := c.logs.all()
	if len(all) == 0 {
		t.Fatal("no log lines captured")
	}
	for tenant, list := range c.containers() {
		all += c.containerLogs(t, tenant, list[0].ID)
	}
	for what, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("the %s appears in a log line", what)
		}
	}
}

// containerLogs is everything a tenant's container wrote to stdout and stderr.
func (c *cluster) containerLogs(t *testing.T, tenant, id string) string {
	rc, err := c.docker.ContainerLogs(t.Context(), id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("logs of tenant %s: %v", tenant, err)
	}
	defer rc.Close()
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		t.Fatalf("logs of tenant %s: %v", tenant, err)
	}
	return out.String()
}

// privateKeys reads the secret material in dir: each PEM private key's
// base64 lines (any one of them in a log would be a leak) and the CA's
// key-encryption key, hex-encoded.
func privateKeys(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if kek, err := os.ReadFile(filepath.Join(dir, "ca-kek")); err == nil {
		out["ca-kek"] = hex.EncodeToString(kek)
	}
	data, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return out
	}
	for i, line := range strings.Split(string(data), "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			out[fmt.Sprintf("key.pem line %d", i)] = line
		}
	}
	if len(out) == 0 {
		t.Fatalf("no private key in %s", dir)
	}
	return out
}
