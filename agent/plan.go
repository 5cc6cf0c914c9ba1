package agent

// observed is one container the engine has for a tenant.
type observed struct {
	ID         string
	Generation uint64
	// State is Docker's: created, running, restarting, paused, exited, dead, removing.
	State string
}

// plan is what one reconcile pass does for a tenant, decided before any call
// to the engine so the decision table can be tested on its own.
type plan struct {
	// Remove are stopped (with a grace period) and removed; their volume stays.
	Remove []string
	// Adopt is a running container of the wanted generation: keep it, probe it.
	Adopt string
	// Start is a stopped container of the wanted generation: start it again.
	Start string
	// Create means no container can be kept: make a new one.
	Create bool
}

// decide plans the containers of one tenant toward generation want; want 0
// means the tenant is not wanted on this node. At most one container survives,
// so a tenant never runs twice.
//
//	same generation, running/restarting  -> adopt
//	same generation, exited              -> start again
//	same generation, created             -> remove, create (a crash between create and start)
//	same generation, paused/dead/other   -> remove, create
//	other generation                     -> stop, remove, create
//	tenant not wanted                    -> stop, remove
func decide(want uint64, found []observed) plan {
	var p plan
	keep := -1
	for i, c := range found {
		if want == 0 || c.Generation != want {
			continue
		}
		switch {
		case isLive(c.State) && (keep < 0 || !isLive(found[keep].State)):
			keep = i
		case c.State == "exited" && keep < 0:
			keep = i
		}
	}
	for i, c := range found {
		if i != keep {
			p.Remove = append(p.Remove, c.ID)
		}
	}
	switch {
	case want == 0:
	case keep < 0:
		p.Create = true
	case isLive(found[keep].State):
		p.Adopt = found[keep].ID
	default:
		p.Start = found[keep].ID
	}
	return p
}

// isLive reports whether a container in state s is running or about to be
// (the engine's restart policy is bringing it back).
func isLive(s string) bool { return s == "running" || s == "restarting" }

// hasGeneration reports whether any found container is of generation gen.
func hasGeneration(found []observed, gen uint64) bool {
	for _, c := range found {
		if c.Generation == gen {
			return true
		}
	}
	return false
}
