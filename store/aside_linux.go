package store

import "syscall"

// lowerThreadPriority makes the calling OS thread nice 19, the least
// important (on Linux, setpriority with a thread id affects that thread
// only). Lowering one's own priority needs no privilege; if it fails
// anyway, the hash just competes as an equal.
func lowerThreadPriority() {
	syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
