package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/zaki-platform/zaki/internal/testutil"
)

// tenantContainer is one tenant container of the fleet, in any state.
type tenantContainer struct {
	id, name, tenant, node, state string
}

// containers lists the tenant containers the fleet's agents made.
func (f *fleet) containers() []tenantContainer {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := f.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "zaki.managed-by=zaki"))})
	if err != nil {
		f.t.Errorf("list tenant containers: %v", err)
		return nil
	}
	re := f.nodeRE()
	var out []tenantContainer
	for _, c := range list {
		if node := c.Labels["zaki.node"]; re.MatchString(node) {
			out = append(out, tenantContainer{id: c.ID, name: strings.TrimPrefix(c.Names[0], "/"),
				tenant: c.Labels["zaki.tenant"], node: node, state: c.State})
		}
	}
	return out
}

// received reads the update ids a tenant's echo container durably
// accepted, from its volume, in order.
func (f *fleet) received(id string) ([]int64, error) { return testutil.EchoReceived(f.docker, id) }

// delivery is where every update of the ledger landed.
type delivery struct {
	at       map[int64][]tenantContainer // update id -> containers that hold it
	order    map[string][]int64          // container id -> the ledger's ids it holds, in order
	byTenant map[string][]tenantContainer
}

func (f *fleet) readDeliveries() (*delivery, error) {
	d := &delivery{at: map[int64][]tenantContainer{}, order: map[string][]int64{},
		byTenant: map[string][]tenantContainer{}}
	_, known := f.led.snapshot(0)
	for _, c := range f.containers() {
		d.byTenant[c.tenant] = append(d.byTenant[c.tenant], c)
		ids, err := f.received(c.id)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.name, err)
		}
		for _, id := range ids {
			if _, ok := known[id]; ok {
				d.at[id] = append(d.at[id], c)
				d.order[c.id] = append(d.order[c.id], id)
			}
		}
	}
	return d, nil
}

// waitDelivered waits until every acknowledged update the current scenario
// sent (from f.scope on) is in some container, then checks them
// (checkDelivered).
func (f *fleet) waitDelivered(t *testing.T, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "every acknowledged update in a container", func() error {
		d, err := f.readDeliveries()
		if err != nil {
			return err
		}
		var missing []int64
		sent, _ := f.led.snapshot(f.scope)
		for _, s := range sent {
			if s.acked() && s.tenant != "" && len(d.at[s.id]) == 0 {
				missing = append(missing, s.id)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d acknowledged updates not delivered yet, first %d", len(missing), missing[0])
		}
		return nil
	})
	f.checkDelivered(t)
}

// checkDelivered asserts, over the updates the current scenario sent (from
// f.scope on): an acknowledged one is in exactly one container, its
// tenant's; one the router refused is in at most that one; one no tenant
// may have is nowhere; each container holds them in the order they were
// sent, once each. And no tenant has more than one container.
func (f *fleet) checkDelivered(t *testing.T) {
	t.Helper()
	d, err := f.readDeliveries()
	if err != nil {
		t.Fatal(err)
	}
	sent, index := f.led.snapshot(f.scope)
	var errs []error
	for _, s := range sent {
		at := d.at[s.id]
		switch {
		case s.acked() && s.tenant != "" && len(at) == 0:
			errs = append(errs, fmt.Errorf("update %d (tenant %s) was acknowledged but is in no container",
				s.id, s.tenant))
		case len(at) > 1:
			errs = append(errs, fmt.Errorf("update %d (tenant %s) is in %d containers: %v",
				s.id, s.tenant, len(at), names(at)))
		}
		for _, c := range at {
			if c.tenant != s.tenant {
				errs = append(errs, fmt.Errorf("update %d of tenant %q reached %s, tenant %s's container",
					s.id, s.tenant, c.name, c.tenant))
			}
		}
	}
	for cid, all := range d.order {
		ids := slices.DeleteFunc(slices.Clone(all), func(id int64) bool { return index[id] < f.scope })
		if !sort.SliceIsSorted(ids, func(i, j int) bool { return index[ids[i]] < index[ids[j]] }) ||
			len(slices.Compact(slices.Clone(ids))) != len(ids) {
			errs = append(errs, fmt.Errorf("container %s holds its updates out of order or twice: %v",
				cid[:12], ids))
		}
	}
	for tenant, cs := range d.byTenant {
		if len(cs) > 1 {
			errs = append(errs, fmt.Errorf("tenant %s has %d containers: %v", tenant, len(cs), names(cs)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
	acked := 0
	for _, s := range sent {
		if s.acked() {
			acked++
		}
	}
	t.Logf("checked %d updates (%d acknowledged) across %d tenant containers", len(sent), acked, len(d.order))
}

func names(cs []tenantContainer) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.name+"@"+c.state)
	}
	return out
}

// waitOnlyOn waits until each tenant has exactly one container, running on
// node: a moved tenant's stopped container on its old node is removed once
// the move is done.
func (f *fleet) waitOnlyOn(t *testing.T, tenants []string, node string, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, fmt.Sprintf("%d tenants' only container running on %s", len(tenants), node),
		func() error {
			by := map[string][]tenantContainer{}
			for _, c := range f.containers() {
				by[c.tenant] = append(by[c.tenant], c)
			}
			for _, tenant := range tenants {
				cs := by[tenant]
				if len(cs) != 1 || cs[0].node != node || cs[0].state != "running" {
					return fmt.Errorf("tenant %s has %v", tenant, names(cs))
				}
			}
			return nil
		})
}

// checkHolds asserts that tenant's one container holds every update of the
// tenant the router acknowledged over the whole run, once each and in the
// order sent, and no update of another tenant: what a moved tenant must
// have brought along. It returns how many acknowledged updates it found.
func (f *fleet) checkHolds(t *testing.T, tenant string) int {
	t.Helper()
	var cs []tenantContainer
	for _, c := range f.containers() {
		if c.tenant == tenant {
			cs = append(cs, c)
		}
	}
	if len(cs) != 1 {
		t.Errorf("tenant %s has %d containers: %v", tenant, len(cs), names(cs))
		return 0
	}
	ids, err := f.received(cs[0].id)
	if err != nil {
		t.Errorf("tenant %s: %v", tenant, err)
		return 0
	}
	sent, index := f.led.snapshot(0)
	of := map[int64]string{}
	for _, s := range sent {
		of[s.id] = s.tenant
	}
	count := map[int64]int{}
	var known []int64
	for _, id := range ids {
		if _, ok := index[id]; ok {
			count[id]++
			known = append(known, id)
			if of[id] != tenant {
				t.Errorf("tenant %s's container %s holds update %d of tenant %q", tenant, cs[0].name, id, of[id])
			}
		}
	}
	var errs []error
	acked := map[int64]bool{}
	for _, s := range sent {
		if s.tenant == tenant && s.acked() && !acked[s.id] {
			acked[s.id] = true
			if count[s.id] != 1 {
				errs = append(errs, fmt.Errorf("acknowledged update %d is there %d times", s.id, count[s.id]))
			}
		}
	}
	if !sort.SliceIsSorted(known, func(i, j int) bool { return index[known[i]] < index[known[j]] }) {
		errs = append(errs, fmt.Errorf("its updates are out of the order sent: %v", known))
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("tenant %s's container %s on %s: %v", tenant, cs[0].name, cs[0].node, err)
	}
	return len(acked)
}
