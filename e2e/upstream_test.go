package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const upstreamVersion = "v0.5.18" // the version go.mod pins

// upstreamLitestream returns the upstream litestream CLI of the version
// the server embeds, built once with "go install" and kept in the user's
// cache folder, so later runs take no time.
func upstreamLitestream(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "booking-tests", "litestream-"+upstreamVersion)
	bin := filepath.Join(dir, "litestream")
	if out, err := exec.Command(bin, "version").Output(); err == nil && strings.Contains(string(out), upstreamVersion) {
		return bin
	}
	goTool := RequireTool(t, "go", "install Go")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "install", "github.com/benbjohnson/litestream/cmd/litestream@"+upstreamVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		ToolMissing(t, "cannot build the upstream litestream CLI with go install (it needs the Go module proxy): "+err.Error()+"\n"+string(out))
	}
	t.Logf("built upstream litestream %s into %s in %s", upstreamVersion, dir, time.Since(start).Round(time.Second))
	return bin
}

// TestUpstreamLitestreamRestoresOurReplica: the replica our server writes
// and the litestream.yml we ship are what the upstream CLI understands; its
// restore (newest and to a point in time) is the same file as ours.
func TestUpstreamLitestreamRestoresOurReplica(t *testing.T) {
	ls := upstreamLitestream(t)
	s := newSite(t, nil) // the shipped litestream.yml, unchanged
	s.addAdmin()
	srv := s.start()
	m := logInAs(t, srv.base, adminEmail, adminPassword)
	m.addTent()
	w := replicaMark(t, s)
	for i := range 5 {
		m.mustBook(i)
	}
	waitForReplica(t, s, w)
	time.Sleep(50 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(50 * time.Millisecond)
	for i := range 5 {
		m.mustBook(10 + i)
	}
	srv.stop() // the final sync ships the rest

	upstream := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"restore", "-config", "litestream.yml", "-o", out}, extra...)
		cmd := exec.Command(ls, append(args, "data/booking.db")...)
		cmd.Dir = s.dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("litestream %v: %v\n%s", args, err, b)
		}
	}
	same := func(what, a, b string) {
		t.Helper()
		ba, err := os.ReadFile(filepath.Join(s.dir, a))
		if err != nil {
			t.Fatal(err)
		}
		bb, err := os.ReadFile(filepath.Join(s.dir, b))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ba, bb) {
			t.Errorf("%s: upstream's restore (%x, %d bytes) differs from ours (%x, %d bytes)", what,
				sha256.Sum256(ba), len(ba), sha256.Sum256(bb), len(bb))
		}
		sa, sb := bookingStatuses(t, filepath.Join(s.dir, a)), bookingStatuses(t, filepath.Join(s.dir, b))
		if len(sa) != len(sb) {
			t.Errorf("%s: upstream restored %d bookings, we %d", what, len(sa), len(sb))
		}
	}

	upstream("upstream-latest.db")
	s.mustRun("restore", "-o", "ours-latest.db")
	same("newest", "upstream-latest.db", "ours-latest.db")
	if n := len(bookingStatuses(t, filepath.Join(s.dir, "ours-latest.db"))); n != 10 {
		t.Errorf("newest restore: %d bookings, want 10", n)
	}

	ts := mid.Format(time.RFC3339Nano)
	upstream("upstream-mid.db", "-timestamp", ts)
	s.mustRun("restore", "-o", "ours-mid.db", "--timestamp", ts)
	same("point in time", "upstream-mid.db", "ours-mid.db")
	if n := len(bookingStatuses(t, filepath.Join(s.dir, "ours-mid.db"))); n != 5 {
		t.Errorf("restore to %s: %d bookings, want 5", ts, n)
	}

	// And by TXID, the way restore-points shows it.
	p := s.restorePoints().Points[0]
	upstream("upstream-txid.db", "-txid", p.TXID)
	s.mustRun("restore", "-o", "ours-txid.db", "--txid", p.TXID)
	same("TXID "+p.TXID, "upstream-txid.db", "ours-txid.db")
}
