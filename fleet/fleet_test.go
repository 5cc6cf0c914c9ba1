package fleet

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/internal/samples"
)

// TestFleet brings one fleet up and runs every scenario on it in turn, while
// a sampler watches that no tenant ever has two running containers. After
// each scenario, every update sent so far is checked: none acknowledged
// lost, none twice, none at another tenant. The scenarios share their people
// where they can (talkers): each tenant takes one of the engine's ~30
// address pools, and the drain needs 20 on one node.
func TestFleet(t *testing.T) {
	f := startFleet(t)
	scenario := func(name string, run func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			mark := f.sampler.mark()
			f.scope = f.led.len()
			run(t)
			f.sampler.check(t, mark)
		})
	}
	scenario("sample conversation", f.sampleConversation)
	scenario("join with a good, a wrong and an expired token", f.joins)
	scenario("a node killed under traffic and brought back", f.nodeKilled)
	scenario("an agent partitioned from the control plane and healed", f.agentPartitioned)
	scenario("the control-plane leader killed under traffic", f.leaderKilled)
	// Moves last: a tenant that moved has run on two nodes, which the
	// scenarios above would take for a fault.
	scenario("a tenant moved while its messages keep arriving", f.tenantMoved)
	scenario("a node holding 20 tenants drained under traffic", f.nodeDrained)

	t.Run("over the whole run", func(t *testing.T) {
		f.scope = 0
		f.checkDelivered(t)
		f.sampler.check(t, 0)
	})
}

// sampleConversation sends the shared sample conversation through the
// fleet: every update lands in the tenant the baseline names, the
// unroutable one nowhere, and people's chats get their echoes.
func (f *fleet) sampleConversation(t *testing.T) {
	for _, body := range samples.Updates() {
		var u struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(body, &u); err != nil {
			t.Fatal(err)
		}
		if s := f.post(u.UpdateID, samples.ExpectedTenant[u.UpdateID], body); !s.acked() {
			t.Errorf("sample update %d: the router answered %d", s.id, s.code)
		}
	}
	f.waitDelivered(t, 2*time.Minute)

	nodes := map[string]bool{}
	for _, c := range f.containers() {
		nodes[c.node] = true
	}
	t.Logf("the sample conversation's tenants run on %d nodes", len(nodes))
	if len(nodes) < 2 {
		t.Errorf("every tenant is on one node; the fleet places with spread: %v", nodes)
	}
	const mina = 5010000001
	waitUntil(t, time.Minute, "Mina's echo at the Telegram stand-in", func() error {
		calls, err := f.standinCalls()
		if err != nil {
			return err
		}
		for _, c := range calls {
			if c.Method == "sendMessage" && c.ChatID == mina && c.Text == "echo: /start" {
				return nil
			}
		}
		return fmt.Errorf("no echo to Mina among %d calls", len(calls))
	})
}

// standinCall is one call the Telegram stand-in recorded.
type standinCall struct {
	Method string `json:"method"`
	ChatID int64  `json:"chat_id"`
	Text   string `json:"text"`
}

func (f *fleet) standinCalls() ([]standinCall, error) {
	resp, err := httpClient.Get(f.standinURL + "/standin/calls")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /standin/calls: %s", resp.Status)
	}
	var calls []standinCall
	return calls, json.NewDecoder(resp.Body).Decode(&calls)
}

// people are n person ids from first on; each person is one tenant.
func people(first int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

func tenantOf(person int64) string { return strconv.FormatInt(person, 10) }

// ensureRunning has each person say hello and waits until each has a
// running container with the hello in it.
func (f *fleet) ensureRunning(t *testing.T, ps []int64) {
	t.Helper()
	for _, p := range ps {
		if s := f.say(p, "/start"); !s.acked() {
			t.Fatalf("first message of %d: the router answered %d", p, s.code)
		}
	}
	f.waitDelivered(t, 2*time.Minute)
}

// victim picks the node holding most of ps's tenants, and those tenants.
func (f *fleet) victim(t *testing.T, ps []int64) (string, []string) {
	t.Helper()
	ts, err := f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	on := map[string][]string{}
	for _, p := range ps {
		tenant := tenantOf(p)
		on[ts[tenant].Node] = append(on[ts[tenant].Node], tenant)
	}
	best := ""
	for node, list := range on {
		if node != "" && (best == "" || len(list) > len(on[best])) {
			best = node
		}
	}
	if best == "" {
		t.Fatalf("none of %v is placed: %v", ps, ts)
	}
	t.Logf("victim node %s holds tenants %v", best, on[best])
	return best, on[best]
}
