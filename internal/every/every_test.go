package every

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallsUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Millisecond, func(context.Context) {
			if calls.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3 (none after the context ended)", n)
	}
}

func TestRunOrKickRunsOnKick(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kick := make(chan struct{})
	calls := make(chan struct{}, 1)
	go RunOrKick(ctx, time.Hour, kick, func(context.Context) { calls <- struct{}{} })
	for i := range 3 {
		kick <- struct{}{}
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("kick %d: no call (the period is an hour)", i)
		}
	}
}

func TestRetryBacksOffAfterFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls, failures atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Retry(ctx, time.Millisecond, func(context.Context) error {
			n := calls.Add(1)
			if n == 5 {
				cancel()
			}
			if n%2 == 0 {
				return nil // a watch that ended cleanly: called again at once
			}
			return errors.New("watch broke")
		}, func(error) { failures.Add(1) })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Retry did not return after its context ended")
	}
	if c, f := calls.Load(), failures.Load(); c != 5 || f != 2 {
		t.Errorf("%d calls and %d failures reported, want 5 and 2 (the fifth is cut by the end)", c, f)
	}
}
