// Package every runs a function on a period until its context ends: the one
// ticker loop the agent's resync and the control plane's heartbeat check share.
package every

import (
	"context"
	"time"
)

// Run calls fn every period until ctx ends. The first call is one period in;
// a call that overruns the period delays the next instead of piling up.
func Run(ctx context.Context, period time.Duration, fn func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
