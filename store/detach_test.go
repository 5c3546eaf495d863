package store

import (
	"context"
	"database/sql"
	"errors"
	"runtime/metrics"
	"testing"
)

// goroutinesCreated is how many goroutines the process has started so far.
func goroutinesCreated(t testing.TB) uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime/metrics has no %s", s[0].Name)
	}
	return s[0].Value.Uint64()
}

// A Detach'ed context is never done itself, but CallerDone still says when
// its caller went away; a write for a caller that went away is not started.
func TestDetach(t *testing.T) {
	f := newFixture(t)
	parent, cancel := context.WithCancel(context.Background())
	d := Detach(parent)
	if d.Done() != nil || d.Err() != nil {
		t.Fatalf("detached context: Done %v, Err %v", d.Done(), d.Err())
	}
	if CallerDone(d) != parent.Done() || CallerDone(parent) != parent.Done() {
		t.Fatal("CallerDone is not the caller's Done channel")
	}
	cancel()
	select {
	case <-CallerDone(d):
	default:
		t.Fatal("CallerDone not closed after the caller went away")
	}
	if d.Err() != nil {
		t.Fatalf("detached context cancelled with its caller: %v", d.Err())
	}
	ran := false
	err := f.s.write(d, func(tx *sql.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("write for a caller that went away: err %v, ran %v", err, ran)
	}
}

// The reason for Detach: statements run with a context that can be
// cancelled start goroutines (the driver's interrupt watcher, database/sql's
// rows watcher); with a Detach'ed one a read starts none, and a write
// transaction only what database/sql starts inside every transaction
// whatever the context: a watcher for the transaction and one for each
// query in it (not for an exec).
func TestDetachStartsNoGoroutines(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 100
	read := func(ctx context.Context) {
		for range n {
			var one int
			if err := f.s.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(ctx context.Context) {
		for i := range n {
			if err := f.s.write(ctx, func(tx *sql.Tx) error {
				if _, err := f.s.execTx(ctx, tx, `INSERT OR REPLACE INTO settings (key, value) VALUES ('detach', ?)`, i); err != nil {
					return err
				}
				var v int
				return f.s.queryRowTx(ctx, tx, `SELECT value FROM settings WHERE key = 'detach'`).Scan(&v)
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	started := func(work func(context.Context), ctx context.Context) uint64 {
		before := goroutinesCreated(t)
		work(ctx)
		return goroutinesCreated(t) - before
	}
	readsCancellable, readsDetached := started(read, ctx), started(read, Detach(ctx))
	writesCancellable, writesDetached := started(write, ctx), started(write, Detach(ctx))
	t.Logf("goroutines started by %d reads: %d with a cancellable context, %d detached; by %d writes of two statements: %d, %d",
		n, readsCancellable, readsDetached, n, writesCancellable, writesDetached)
	// A few may come from elsewhere in the process (the test runner, the
	// pool opening a connection); one per statement would be a hundred or
	// more.
	if readsDetached > n/10 {
		t.Errorf("%d goroutines started by %d detached reads", readsDetached, n)
	}
	if writesDetached > 2*n+n/10 {
		t.Errorf("%d goroutines started by %d detached write transactions (an exec and a query each)", writesDetached, n)
	}
}
