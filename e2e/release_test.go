package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	releaseOnce sync.Once
	releaseDir  string
	releaseErr  error
)

// release runs deploy/release.sh once per test process: the binaries for
// every target, the install archive and SHA256SUMS, as published.
func release(t *testing.T) string {
	t.Helper()
	RequireTool(t, "go", "install Go")
	releaseOnce.Do(func() {
		releaseDir = filepath.Join(binDir, "release")
		start := time.Now()
		cmd := exec.Command("sh", filepath.Join(moduleRoot, "deploy", "release.sh"), "1.0.0", releaseDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			releaseErr = fmt.Errorf("deploy/release.sh: %v\n%s", err, out)
			return
		}
		t.Logf("deploy/release.sh built every target in %s", time.Since(start).Round(time.Second))
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return releaseDir
}

// TestReleaseBinariesUnderQemu builds the release and runs the Raspberry Pi
// binaries (64-bit and 32-bit Raspberry Pi OS) under qemu user emulation:
// version, user add, serve, /health, log in, book over HTTP, restore-points.
func TestReleaseBinariesUnderQemu(t *testing.T) {
	qemu := map[string]string{
		"arm64": RequireTool(t, "qemu-aarch64-static", "apt-get install qemu-user-static"),
		"armv7": RequireTool(t, "qemu-arm-static", "apt-get install qemu-user-static"),
	}
	dir := release(t)
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	for _, target := range []string{"linux-arm64", "linux-armv7", "linux-amd64"} {
		name := "booking-1.0.0-" + target
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !strings.Contains(string(sums), name) {
			t.Fatalf("%s: %v, or not in SHA256SUMS", name, err)
		}
		t.Logf("SIZE %s: %d bytes (%.1f MiB)", name, fi.Size(), float64(fi.Size())/(1<<20))
		if out, err := exec.Command("file", filepath.Join(dir, name)).Output(); err == nil &&
			(!strings.Contains(string(out), "statically linked") || !strings.Contains(string(out), "stripped") || strings.Contains(string(out), "not stripped")) {
			t.Errorf("%s is not a static, stripped binary: %s", name, out)
		}
	}
	if !strings.Contains(string(sums), "booking-1.0.0-install.tar.gz") {
		t.Error("the install archive is not in SHA256SUMS")
	}

	for _, tc := range []struct{ arch, target string }{{"arm64", "linux/arm64"}, {"armv7", "linux/arm/v7"}} {
		t.Run(tc.arch, func(t *testing.T) {
			bin := filepath.Join(dir, "booking-1.0.0-linux-"+tc.arch)
			s := newSite(t, nil)
			emu := &emulated{t: t, site: s, argv: []string{qemu[tc.arch], bin}}
			if out := emu.mustRun("", "version"); !strings.HasPrefix(out, "booking 1.0.0 (go") || !strings.Contains(out, tc.target+", schema ") {
				t.Errorf("version: %q", out)
			}
			emu.mustRun(adminPassword+"\n", "user", "add", "--email", adminEmail, "--name", "Oma", "--admin")
			base, stop := emu.serve()
			m := logInAs(t, base, adminEmail, adminPassword)
			m.client.Timeout = time.Minute // emulated, on a busy machine
			m.addTent()
			id := m.mustBook(3)
			stop()
			if got := bookingStatuses(t, s.dbPath())[id]; got != "pending" {
				t.Errorf("booking %d after the server stopped: %q", id, got)
			}
			if out := emu.mustRun("", "restore-points"); !strings.Contains(out, "Restore points, oldest first") {
				t.Errorf("restore-points:\n%s", out)
			}
		})
	}
}

// emulated runs a binary for another architecture through qemu.
type emulated struct {
	t    *testing.T
	site *site
	argv []string
}

func (e *emulated) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.argv[0], append(e.argv[1:], args...)...)
	cmd.Dir = e.site.dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serve starts "serve" on a free loopback port and waits for /health.
func (e *emulated) serve() (base string, stop func()) {
	e.t.Helper()
	addr := FreePort(e.t)
	logs := &LogBuffer{}
	cmd := exec.Command(e.argv[0], append(e.argv[1:], "serve", "-addr", addr)...)
	cmd.Dir = e.site.dir
	cmd.Stdout, cmd.Stderr = logs, logs
	started := time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	e.t.Cleanup(func() { cmd.Process.Kill() })
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		res, err := client.Get("http://" + addr + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			e.t.Fatalf("the server exited: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(started) > 2*time.Minute {
			e.t.Fatalf("not healthy under qemu:\n%s", logs)
		}
	}
	e.t.Logf("healthy under qemu after %s", time.Since(started).Round(time.Millisecond))
	return "http://" + addr, func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("serve under qemu: %v\n%s", err, logs)
			}
		case <-time.After(time.Minute):
			e.t.Errorf("serve under qemu did not stop:\n%s", logs)
		}
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), "level=ERROR") {
				e.t.Errorf("error in the log: %s", sc.Text())
			}
		}
	}
}
