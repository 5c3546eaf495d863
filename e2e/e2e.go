// Package e2e holds the tests that build the real binary and run it: the
// server against a real replica, its command line, and the tools around it
// (promtool, OpenSSH, the upstream litestream CLI), all through the one
// harness in harness_test.go.
//
// This file is the part of that harness that tests elsewhere need too (the
// handlers' Prometheus, promtool and Chromium tests, the monitoring kit's
// checks): one rule for a missing tool, a free loopback port, a log
// buffer a test can read while a process or a logger writes to it, and the
// damage a power cut or a failing SD card does to a database file.
package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// RequireTool finds a program the test needs. Outside CI a missing tool
// skips the test with what to install; in CI (CI=true), where .ci/run
// installs every tool, it fails it.
func RequireTool(tb testing.TB, name, install string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		ToolMissing(tb, fmt.Sprintf("%s not found (%v): %s", name, err, install))
	}
	return p
}

// ToolMissing skips the test with msg, or fails it in CI.
func ToolMissing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// FreePort returns a loopback address ("127.0.0.1:PORT") that nothing
// listens on, for the server or a helper process.
func FreePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// LogBuffer collects output while the test reads it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// CorruptPage writes random bytes over page n (4096-byte pages) of a
// closed database file, as the dd did: page 2 is the users table.
func CorruptPage(tb testing.TB, path string, n int) {
	tb.Helper()
	b := make([]byte, 4096)
	rand.Read(b)
	b[0] = 0 // no b-tree page starts like this
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, int64(n-1)*4096); err != nil {
		tb.Fatal(err)
	}
}
