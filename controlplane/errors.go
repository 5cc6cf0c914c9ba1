package controlplane

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain errors. Callers wrap them with the ids involved (%w) and match them
// with errors.Is; toStatus maps them to gRPC codes at the boundary.
var (
	errInvalid       = errors.New("invalid argument")
	errNotFound      = errors.New("not found")
	errExists        = errors.New("already exists")
	errPrecondition  = errors.New("failed precondition")
	errConflict      = errors.New("too many conflicting writes, try again")
	errCompacted     = errors.New("watch revision compacted, list again")
	errSessionClosed = errors.New("session closed")
	errUnavailable   = errors.New("etcd unavailable")
	errRateLimited   = errors.New("rate limited")
	// errNotLeader is a leader-only request made to another replica; it
	// fails Unavailable, so a client tries again (zaki ctl does).
	errNotLeader = errors.New("this control plane does not lead")
)

// toStatus is the one place domain errors become gRPC status errors. Context
// errors pass through as their own codes; anything unknown is Internal.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, errInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, errNotFound):
		code = codes.NotFound
	case errors.Is(err, errExists):
		code = codes.AlreadyExists
	case errors.Is(err, errPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, errConflict):
		code = codes.Aborted
	case errors.Is(err, errCompacted):
		code = codes.OutOfRange
	case errors.Is(err, errSessionClosed):
		code = codes.Unavailable
	case errors.Is(err, errUnavailable), errors.Is(err, errNotLeader):
		code = codes.Unavailable
	case errors.Is(err, errRateLimited):
		code = codes.ResourceExhausted
	}
	return status.Error(code, err.Error())
}
