package controlplane

import (
	"context"
	"fmt"
	"strings"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// builtinTiers are the tiers a cluster has until settings/tiers/<name>
// says otherwise.
var builtinTiers = map[string]*zakiv1.Tier{
	"free": {Name: "free", MemoryBytes: 512 << 20},
	"pro":  {Name: "pro", MemoryBytes: 1 << 30},
}

// tier is the tier called name: the stored one, else the built-in one.
func (v *view) tier(name string) (*zakiv1.Tier, bool) {
	if name == "" {
		name = defaultTier
	}
	if t, ok := v.tiers[name]; ok {
		return t, true
	}
	t, ok := builtinTiers[name]
	return t, ok
}

// tierNames is every tier name v knows, sorted, for error messages.
func (v *view) tierNames() string {
	names := map[string]bool{}
	for n := range builtinTiers {
		names[n] = true
	}
	for n := range v.tiers {
		names[n] = true
	}
	return strings.Join(sortedKeys(names), ", ")
}

// demand is what a tenant asks of a node.
type demand struct {
	memBytes    int64
	constraints map[string]string
}

// demandOf is what tenant t asks of a node: the larger of its tier's and its
// profile's memory, and its tier's label constraints. An unknown tier or
// profile is an error naming it, with the failure reason for the metric.
func (v *view) demandOf(t *zakiv1.Tenant) (demand, string, error) {
	prof, err := v.memoryOf(t.Profile)
	if err != nil {
		return demand{}, reasonUnknownProfile, err
	}
	tier, ok := v.tier(t.Tier)
	if !ok {
		return demand{}, reasonUnknownTier, fmt.Errorf("tier %q is not defined (known: %s)",
			t.Tier, v.tierNames())
	}
	return demand{memBytes: max(prof, tier.MemoryBytes), constraints: tier.Constraints}, "", nil
}

// reservedBy is the memory tenant t holds on its node: its demand, or what is
// known of it when its tier or profile is not.
func (v *view) reservedBy(t *zakiv1.Tenant) int64 {
	if d, _, err := v.demandOf(t); err == nil {
		return d.memBytes
	}
	var mem int64
	if m, err := v.memoryOf(t.Profile); err == nil {
		mem = m
	}
	if tier, ok := v.tier(t.Tier); ok {
		mem = max(mem, tier.MemoryBytes)
	}
	return mem
}

// missingLabels is the constraints node labels do not satisfy, as k=v, sorted.
func missingLabels(labels, constraints map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(constraints) {
		if labels[k] != constraints[k] {
			out = append(out, k+"="+constraints[k])
		}
	}
	return out
}

// PutTier stores tier t in the cluster settings, replacing the built-in or
// stored tier of the same name. Tenants already placed keep their nodes.
func (c *Controller) PutTier(ctx context.Context, t *zakiv1.Tier) error {
	if t.GetName() == "" || t.MemoryBytes < 0 {
		return fmt.Errorf("%w: a tier needs a name and non-negative memory", errInvalid)
	}
	if _, err := c.cli.Do(ctx, putProto(tierKey(t.Name), t)); err != nil {
		return fmt.Errorf("store tier %s: %w", t.Name, err)
	}
	c.kickPending()
	return nil
}
