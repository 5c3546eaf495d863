package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ackLog records the bookings the server acknowledged, with when.
type ackLog struct {
	mu   sync.Mutex
	acks map[int64]time.Time
}

func (a *ackLog) add(id int64) {
	a.mu.Lock()
	a.acks[id] = time.Now()
	a.mu.Unlock()
}

func (a *ackLog) snapshot() map[int64]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[int64]time.Time, len(a.acks))
	for k, v := range a.acks {
		m[k] = v
	}
	return m
}

// bookContinuously runs writers that create bookings over HTTP until the
// returned function is called. Errors count only until dying is set: after
// that the server is being killed under them.
func (m *browserSession) bookContinuously(writers int, acks *ackLog, dying *atomic.Bool) (stop func()) {
	var n atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				id, err := m.book(int(n.Add(1)))
				if err == nil {
					acks.add(id)
				} else if !dying.Load() {
					m.t.Errorf("booking while the server runs: %v", err)
					return
				} else {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// TestCrashKeepsEveryAcknowledgedBooking kills the real server with
// SIGKILL while members are booking, starts it again and checks that every
// acknowledged booking is there; then the SD card "dies" (database, -wal,
// -shm and Litestream's folder gone) and the server brings back from the
// replica every booking acknowledged before the replica's last sync.
func TestCrashKeepsEveryAcknowledgedBooking(t *testing.T) {
	// The shipped config, with the replica outside data/ as on a USB disk.
	s, _ := newUSBSite(t)
	s.addAdmin()
	srv := s.start()
	t.Logf("start to healthy, new database: %s", srv.healthy)
	m := logInAs(t, srv.base, adminEmail, adminPassword)
	m.addTent()

	// 1. SIGKILL mid-stream.
	acks := &ackLog{acks: map[int64]time.Time{}}
	var dying atomic.Bool
	stop := m.bookContinuously(4, acks, &dying)
	time.Sleep(2 * time.Second)
	dying.Store(true)
	srv.kill()
	stop()
	run1 := acks.snapshot()
	if len(run1) < 20 {
		t.Fatalf("only %d bookings acknowledged in 2s", len(run1))
	}

	// 2. Start again: every acknowledged booking is on the disk.
	srv2 := s.start()
	t.Logf("start to healthy after SIGKILL (existing database): %s", srv2.healthy)
	local := bookingStatuses(t, s.dbPath())
	lost := 0
	for id := range run1 {
		if _, ok := local[id]; !ok {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged bookings are gone after the crash", lost, len(run1))
	}
	t.Logf("run 1: %d bookings acknowledged, all there after SIGKILL (%d on disk)", len(run1), len(local))

	// 3. Book on, and kill it again mid-stream.
	m2 := logInAs(t, srv2.base, adminEmail, adminPassword)
	m2.accID = m.accID
	dying.Store(false)
	stop = m2.bookContinuously(4, acks, &dying)
	time.Sleep(2500 * time.Millisecond)
	dying.Store(true)
	killedAt := time.Now()
	srv2.kill()
	stop()
	all := acks.snapshot()
	onDisk := bookingStatuses(t, s.dbPath())

	// 4. The SD card dies. The replica's newest point is its last sync.
	for _, p := range []string{"booking.db", "booking.db-wal", "booking.db-shm", ".booking.db-litestream"} {
		if err := os.RemoveAll(filepath.Join(s.dir, "data", p)); err != nil {
			t.Fatal(err)
		}
	}
	newest := s.restorePoints().newest()
	if lag := killedAt.Sub(newest); lag > 3*time.Second {
		t.Errorf("the replica's newest point is %s older than the crash (sync-interval is 1s)", lag)
	}
	srv3 := s.start()
	t.Logf("start to healthy with a restore from the replica: %s", srv3.healthy)
	if !strings.Contains(srv3.logs.String(), "RESTORED IT FROM THE REPLICA") {
		t.Errorf("the restore was not logged loudly:\n%s", srv3.logs)
	}
	restored := bookingStatuses(t, s.dbPath())
	// Litestream stamps a point after reading the WAL, so a booking
	// acknowledged before that is in it; the slack covers the moment
	// between its commit and the client seeing the answer.
	const slack = 250 * time.Millisecond
	var missingIDs []int64
	inFlight := 0
	for id, at := range all {
		if _, ok := restored[id]; ok {
			continue
		}
		if at.Before(newest.Add(-slack)) {
			missingIDs = append(missingIDs, id)
		} else {
			inFlight++
		}
	}
	sort.Slice(missingIDs, func(i, j int) bool { return missingIDs[i] < missingIDs[j] })
	if len(missingIDs) > 0 {
		t.Errorf("%d bookings acknowledged before the last sync (%s) are not in the restore: %v", len(missingIDs),
			newest.Format(time.RFC3339Nano), missingIDs)
	}
	for id := range restored {
		if _, ok := onDisk[id]; !ok {
			t.Errorf("booking %d is in the restore but was never on the disk", id)
		}
	}
	t.Logf("%d bookings acknowledged in all; after the SD card died %d came back, %d (acknowledged in the last %s before the crash) were not yet replicated",
		len(all), len(restored), inFlight, killedAt.Sub(newest).Round(time.Millisecond))

	// 5. A clean stop ships everything: the final sync.
	m3 := logInAs(t, srv3.base, adminEmail, adminPassword)
	m3.accID = m.accID
	var last []int64
	for i := range 10 {
		last = append(last, m3.mustBook(1000+i))
	}
	// The bookings acknowledged after the replica's last sync are gone, but
	// their ids were handed out: new bookings never get them again.
	for id := range all {
		if last[0] <= id {
			t.Errorf("after the restore a new booking got id %d, but %d was acknowledged before the crash", last[0], id)
			break
		}
	}
	srv3.stop()
	for _, p := range []string{"booking.db", "booking.db-wal", "booking.db-shm", ".booking.db-litestream"} {
		os.RemoveAll(filepath.Join(s.dir, "data", p))
	}
	srv4 := s.start()
	final := bookingStatuses(t, s.dbPath())
	for _, id := range last {
		if _, ok := final[id]; !ok {
			t.Errorf("booking %d, made just before a clean stop, is not in the restore", id)
		}
	}
	srv4.stop()
}
