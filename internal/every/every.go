// Package every owns the control loops the agent and the control plane
// share: a function on a period (Run), on a period or whenever kicked
// (RunOrKick), and again after each failure with a growing pause (Retry).
package every

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Run calls fn every period until ctx ends. The first call is one period in;
// a call that overruns the period delays the next instead of piling up.
func Run(ctx context.Context, period time.Duration, fn func(context.Context)) {
	RunOrKick(ctx, period, nil, fn)
}

// RunOrKick is Run that also calls fn whenever kick receives, so a loop
// acts on news at once and still looks again every period when none came.
func RunOrKick(ctx context.Context, period time.Duration, kick <-chan struct{}, fn func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		if ctx.Err() != nil {
			return // both were ready; the end wins
		}
		fn(ctx)
	}
}

// Retry calls once until ctx ends. After each failure it hands the error to
// failed and waits an exponential backoff of up to maxInterval (with
// jitter) before calling once again; a call that returns nil is called
// again at once, with the backoff started over. It suits list-then-watch
// loops, whose once returns only when the watch breaks.
func Retry(ctx context.Context, maxInterval time.Duration, once func(context.Context) error, failed func(error)) {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = maxInterval
	for ctx.Err() == nil {
		err := once(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			b.Reset()
			continue
		}
		failed(err)
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
