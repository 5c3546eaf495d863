package handlers_test

import (
	"context"
	"runtime/metrics"
	"testing"
)

// Page views start no goroutines, although a request's context can be
// cancelled (the visitor leaves): with it, every statement started one in
// the SQLite driver and every query one more in database/sql, and under
// load those crowded out the requests (see store.Detach).
func TestPageViewsStartNoGoroutines(t *testing.T) {
	e, h, cookie := monthEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	count := func() uint64 {
		metrics.Read(created)
		return created[0].Value.Uint64()
	}
	view := func(path string) { serveGetContext(t, ctx, h, path, cookie) }
	paths := []string{"/calendar?month=2026-08", "/bookings", "/bookings/new", "/profile", "/availability?month=2026-08"}
	for _, p := range paths {
		view(p) // first views may fill caches and pools
	}
	change := bookingChanges(today.AddDays(9))(e)
	const rounds = 20
	var started uint64
	for range rounds {
		// A booking change first, so that the month is read again.
		if err := change(); err != nil {
			t.Fatal(err)
		}
		before := count()
		for _, p := range paths {
			view(p)
		}
		started += count() - before
	}
	t.Logf("%d page views started %d goroutines", rounds*len(paths), started)
	if started > rounds/2 {
		t.Errorf("%d page views started %d goroutines, want (almost) none", rounds*len(paths), started)
	}
}
