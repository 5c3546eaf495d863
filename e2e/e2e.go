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

// CorruptPage writes random bytes over page n of a closed database file,
// as the dd did: page 2 is the users table. The page size is read
// from the file's header (new databases have 1 KiB pages, older ones 4 KiB).
func CorruptPage(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var header [18]byte
	if _, err := f.ReadAt(header[:], 0); err != nil {
		tb.Fatal(err)
	}
	size := int64(header[16])<<8 | int64(header[17]) // big-endian
	if size == 1 {
		size = 65536 // how the header spells 64 KiB
	}
	b := make([]byte, size)
	rand.Read(b)
	b[0] = 0 // no b-tree page starts like this
	if _, err := f.WriteAt(b, int64(n-1)*size); err != nil {
		tb.Fatal(err)
	}
}
