package store

import (
	"os"
	"runtime"
)

// aside runs fn, a long computation (a password hash: tens of
// milliseconds of CPU), so that it does not hold up the requests being
// served meanwhile: on an OS thread of its own at the lowest priority, and,
// when the Go scheduler has a single processor (GOMAXPROCS=1, e.g. a
// service pinned to one core), with a second one while fn runs. Without
// that, the hash holds the only processor and every page waits for the
// scheduler to take it back (10 ms at a time); with it, the kernel shares
// the core and, the hash's thread being less important, serves the pages
// first. Callers run one aside at a time (Store.hashSem).
func aside(fn func()) {
	if runtime.GOMAXPROCS(0) == 1 {
		runtime.GOMAXPROCS(2)
		defer func() {
			if os.Getenv("GOMAXPROCS") != "" {
				runtime.GOMAXPROCS(1)
			} else {
				runtime.SetDefaultGOMAXPROCS()
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, so its
		// lower priority goes with it.
		lowerThreadPriority()
		fn()
		close(done)
	}()
	<-done
}
