package store

import "context"

// Detach returns ctx without its cancellation, for a caller (a web request)
// whose database calls are all short, and remembers ctx so that the waits
// that should end when the caller goes away still do (CallerDone).
//
// Why: for every statement run with a context that can be cancelled,
// modernc's driver starts a goroutine that waits to interrupt it, and
// database/sql starts another for every query (to close the rows) and
// every transaction (to roll it back). A page view runs several
// statements, so under load most goroutines on the server's one processor
// were these watchers, started and woken on every statement. They kept the
// processor's own run queue full, and Go's scheduler serves that queue
// before the goroutines the network woke (a new request waits in the
// global queue, taken once in 61 turns while the local one is not empty).
// Measured with the 50-user mix at saturation on one core (GOMAXPROCS=1):
// p99 1.4-2.0 s with the watchers, 0.25 s without (the calendar's p99 3.0
// s against 0.13 s), and 15-20 % more requests served.
//
// A statement here takes micro- to milliseconds, so interrupting it when
// the visitor leaves saves nothing. What does matter waits in Go code and
// selects on CallerDone: the group commit does not run the change of a
// caller that went away.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(context.WithoutCancel(ctx), callerKey{}, ctx)
}

type callerKey struct{}

// CallerDone is the Done channel of the caller behind a Detach'ed context,
// or ctx's own for any other context.
func CallerDone(ctx context.Context) <-chan struct{} {
	return caller(ctx).Done()
}

// callerErr is CallerDone's Err.
func callerErr(ctx context.Context) error {
	return caller(ctx).Err()
}

func caller(ctx context.Context) context.Context {
	if c, ok := ctx.Value(callerKey{}).(context.Context); ok {
		return c
	}
	return ctx
}
