package store

import "context"

// Detach returns ctx without its cancellation, for a caller (a web request)
// whose database calls are all short, and remembers ctx so that the waits
// that should end when the caller goes away still do (CallerDone).
//
// Why: for every statement run with a context that can be cancelled,
// modernc's driver starts a goroutine that waits to interrupt it, and
// database/sql starts another for every query (to close its rows): 4.8 per
// page view. Under load most goroutines on the server's one processor were
// these watchers, started and woken on every statement, and requests
// waited long before their handler began. The likely mechanism: the
// watchers kept the processor's own run queue full, and Go's scheduler
// serves that queue before the goroutines the network woke, which wait in
// the global queue (taken once in 61 turns while the local one is busy).
// Measured with the 50-user mix at saturation on one core (bench/run.sh,
// GOMAXPROCS=1): p99 2.4-2.5 s with the watchers, 0.62-0.70 s without
// (the calendar's 3.7-4.0 s against 0.48-0.60 s), and 11-22 % more
// requests served. Inside a transaction database/sql watches the
// transaction's own context, so a write still starts one goroutine for the
// transaction and one for each query in it.
//
// A statement here takes micro- to milliseconds, so interrupting it when
// the visitor leaves saves nothing. What does matter waits in Go code and
// selects on CallerDone, or checks it before starting: no write starts, and
// the group commit runs no change, for a caller that went away.
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
