package store

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// A hash runs on a thread of its own at nice 19, with a second processor
// while it runs if there was only one, and the setting comes back after.
func TestAside(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Setenv("GOMAXPROCS", "1") // as the operator set it: put back as such
	var procs int
	var nice string
	aside(func() {
		procs = runtime.GOMAXPROCS(0)
		b, err := os.ReadFile("/proc/thread-self/stat")
		if err != nil {
			t.Error(err)
			return
		}
		// Field 19 is the nice value; the command name (field 2) is in
		// parentheses and may hold spaces.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		nice = fields[19-3]
	})
	if procs != 2 {
		t.Errorf("GOMAXPROCS during the hash: %d, want 2", procs)
	}
	if nice != "19" {
		t.Errorf("nice during the hash: %s, want 19", nice)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS after: %d, want 1 again", n)
	}
}
