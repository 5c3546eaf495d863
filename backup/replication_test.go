package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/sftp"

	"booking/store"
)

// fileReplica is a replica configuration for a folder, with short intervals
// so that tests see syncs and compactions within seconds.
func fileReplica(dir string) ReplicaConfig {
	return ReplicaConfig{
		Type: "file", Location: "file " + dir,
		NewClient:    func() (litestream.ReplicaClient, error) { return file.NewReplicaClient(dir), nil },
		SyncInterval: 100 * time.Millisecond, MonitorInterval: 100 * time.Millisecond,
		Levels:              litestream.CompactionLevels{{Level: 0}, {Level: 1, Interval: time.Second}},
		ShutdownSyncTimeout: 2 * time.Second,
		Logger:              slog.New(slog.DiscardHandler),
	}
}

// today is the fixture's "today", 2026-08-01 in Berlin.
var today = store.MakeDate(2026, time.August, 1)

func fixedClock() time.Time { return time.Date(2026, 8, 1, 10, 0, 0, 0, berlinZone) }

var berlinZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// replicated is a store with an admin, a member and a tent of 4 beds, and
// its replication, closed in the server's order (store, then replication) at
// the end of the test.
type replicated struct {
	s      *store.Store
	admin  *store.User
	member *store.User
	tent   *store.Accommodation
	dbPath string
	cfg    ReplicaConfig
	rep    *Replication
	once   sync.Once
}

func newReplicated(t testing.TB, cfg ReplicaConfig) *replicated {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "data", "booking.db")
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o750); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dbPath, store.Options{Now: fixedClock, TimeZone: berlinZone})
	if err != nil {
		t.Fatal(err)
	}
	r := &replicated{s: s, dbPath: dbPath, cfg: cfg}
	r.admin = r.user(t, "admin@example.org", store.RoleAdmin)
	r.member = r.user(t, "anna@example.org", store.RoleMember)
	r.tent = r.accommodation(t, "Zelt", "tent", 4)
	if r.rep, err = StartReplication(ctx, dbPath, cfg); err != nil {
		s.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close(t) })
	return r
}

func (r *replicated) user(t testing.TB, email, role string) *store.User {
	t.Helper()
	// No password: hashing is slow on purpose and no test here logs in.
	u, err := r.s.CreateUser(context.Background(), store.NewUser{Email: email, Name: email[:4], Role: role, State: store.StateApproved})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (r *replicated) accommodation(t testing.TB, name, kind string, beds int) *store.Accommodation {
	t.Helper()
	a, err := r.s.CreateAccommodation(context.Background(), r.admin, store.AccommodationInput{Name: name, Kind: kind, Beds: beds})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// bookTent books one person into the tent from today+arrival to today+departure.
func (r *replicated) bookTent(ctx context.Context, s *store.Store, arrival, departure int) (*store.Booking, error) {
	return s.CreateBooking(ctx, r.member, store.BookingInput{Arrival: today + store.Date(arrival), Departure: today + store.Date(departure),
		Items: []store.Item{{AccommodationID: r.tent.ID, Persons: 1}}})
}

// close shuts down like the server does: the app's pools first, then
// Litestream's final sync.
func (r *replicated) close(t testing.TB) {
	r.once.Do(func() {
		if err := r.s.Close(); err != nil {
			t.Error(err)
		}
		if err := r.rep.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func (r *replicated) sync(t testing.TB) {
	t.Helper()
	syncNow(t, r.rep)
}

// syncNow ships every committed change to the replica and waits for it.
func syncNow(t testing.TB, rep *Replication) {
	t.Helper()
	select {
	case <-rep.firstSync:
	default:
		t.Fatal("the replica has not been reached")
	}
	if err := rep.db.SyncAndWait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// bookingIDs reads the booking ids of a database file.
func bookingIDs(t testing.TB, path string) []int64 {
	t.Helper()
	db, err := openReadOnly(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM bookings ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// writeBookings creates n bookings of one night over the given time and
// returns their ids: what the store acknowledged.
func (r *replicated) writeBookings(t testing.TB, n int, over time.Duration) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		arr := 1 + len(ids)%25
		b, err := r.bookTent(context.Background(), r.s, arr, arr+1)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		if i < n-1 {
			time.Sleep(over / time.Duration(n))
		}
	}
	// Cancel at once so that the next batch finds free beds.
	for _, id := range ids {
		if err := r.s.CancelBooking(context.Background(), r.member, id); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func TestReplicationPointInTimeRestore(t *testing.T) {
	r := newReplicated(t, fileReplica(filepath.Join(t.TempDir(), "replica")))
	ctx := context.Background()
	out := t.TempDir()

	// Three batches over a few seconds. Each time is noted after the
	// batch has reached the replica; Litestream's background sync runs all
	// along and cuts its own points in between.
	a := r.writeBookings(t, 8, 1200*time.Millisecond)
	r.sync(t)
	t1 := time.Now()
	time.Sleep(20 * time.Millisecond)
	b := r.writeBookings(t, 8, 1200*time.Millisecond)
	r.sync(t)
	t2 := time.Now()
	time.Sleep(20 * time.Millisecond)
	c := r.writeBookings(t, 8, 600*time.Millisecond)
	r.sync(t)

	restore := func(name string, opt RestoreOptions) *RestoreResult {
		t.Helper()
		opt.OutputPath = filepath.Join(out, name)
		res, err := Restore(ctx, r.cfg, opt)
		if err != nil {
			t.Fatalf("restore %s: %v", name, err)
		}
		return res
	}
	upTo := func(batches ...[]int64) []int64 { return slices.Concat(batches...) }

	res1 := restore("t1.db", RestoreOptions{Timestamp: t1})
	if got := bookingIDs(t, res1.Path); !slices.Equal(got, upTo(a)) {
		t.Errorf("restore to t1: bookings %v, want %v", got, upTo(a))
	}
	res2 := restore("t2.db", RestoreOptions{Timestamp: t2})
	if got := bookingIDs(t, res2.Path); !slices.Equal(got, upTo(a, b)) {
		t.Errorf("restore to t2: bookings %v, want %v", got, upTo(a, b))
	}
	latest := restore("latest.db", RestoreOptions{})
	if got := bookingIDs(t, latest.Path); !slices.Equal(got, upTo(a, b, c)) {
		t.Errorf("latest restore: bookings %v, want %v", got, upTo(a, b, c))
	}
	if latest.Summary.Bookings != int64(len(a)+len(b)+len(c)) || latest.Summary.LatestBooking == nil ||
		latest.Summary.LatestBooking.ID != c[len(c)-1] {
		t.Errorf("latest summary: %+v", latest.Summary)
	}
	if !(res1.Point.TXID < res2.Point.TXID && res2.Point.TXID < latest.Point.TXID) {
		t.Errorf("points not in order: %d %d %d", res1.Point.TXID, res2.Point.TXID, latest.Point.TXID)
	}

	// The listed points: the one restore picked for t1 is there, and
	// restoring it by TXID gives the same bookings.
	list, err := RestorePoints(ctx, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Points) < 3 || list.Window.EndTXID != latest.Point.TXID || !list.Window.Start.Before(t1) {
		t.Fatalf("restore points: window %+v, %d points", list.Window, len(list.Points))
	}
	var levels []int
	for _, p := range list.Points {
		if !slices.Contains(levels, p.Level) {
			levels = append(levels, p.Level)
		}
	}
	t.Logf("%d restore points, levels %v, window %s .. %s", len(list.Points), levels,
		list.Window.Start.Format(time.RFC3339Nano), list.Window.End.Format(time.RFC3339Nano))
	byTXID := restore("txid.db", RestoreOptions{TXID: res1.Point.TXID})
	if got := bookingIDs(t, byTXID.Path); !slices.Equal(got, upTo(a)) {
		t.Errorf("restore by TXID %s: bookings %v, want %v", FormatTXID(res1.Point.TXID), got, upTo(a))
	}
	// Every listed point restores by its TXID; spot-check a few.
	for _, i := range []int{0, len(list.Points) / 2, len(list.Points) - 2} {
		p := list.Points[i]
		if _, err := Restore(ctx, r.cfg, RestoreOptions{OutputPath: filepath.Join(out, fmt.Sprintf("p%d.db", i)), TXID: p.TXID}); err != nil {
			t.Errorf("point %d (TXID %s, L%d): %v", i, FormatTXID(p.TXID), p.Level, err)
		}
	}

	// Out of the window: the error says the window.
	for name, opt := range map[string]RestoreOptions{
		"an hour before": {Timestamp: list.Window.Start.Add(-time.Hour)},
		"the future":     {Timestamp: time.Now().Add(time.Hour)},
		"unknown TXID":   {TXID: latest.Point.TXID + 1000},
	} {
		opt.OutputPath = filepath.Join(out, "never.db")
		_, err := Restore(ctx, r.cfg, opt)
		var we *WindowError
		if !errors.As(err, &we) || !strings.Contains(err.Error(), list.Window.Start.UTC().Format("2006-01-02 15:04:05")) {
			t.Errorf("%s: want a window error naming the window, got %v", name, err)
		}
		if _, err := os.Stat(opt.OutputPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a failed restore left %s", name, opt.OutputPath)
		}
	}
	// Never over an existing file.
	if _, err := Restore(ctx, r.cfg, RestoreOptions{OutputPath: latest.Path}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("restore over an existing file: %v", err)
	}
}

func TestReplicationStatus(t *testing.T) {
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	cfg.ValidationInterval = 200 * time.Millisecond
	before := time.Now()
	r := newReplicated(t, cfg)
	// StartReplication returns after the first sync.
	st := r.rep.Status()
	if st.LastSync.Before(before) {
		t.Errorf("no sync before StartReplication returned: %+v", st)
	}
	r.writeBookings(t, 3, 0)
	r.sync(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st = r.rep.Status()
		if st.RestoreWindow && st.Validation != "" && !st.WindowEnd.Before(before) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Type != "file" || !strings.Contains(st.Location, "replica") || st.LastError != "" || !st.SameDevice {
		t.Errorf("status: %+v", st)
	}
	if !st.RestoreWindow || st.WindowStart.After(st.WindowEnd) || time.Since(st.WindowEnd) > 10*time.Second {
		t.Errorf("restore window: %+v", st)
	}
	if !strings.HasPrefix(st.Validation, "ok") || st.ValidationAt.IsZero() {
		t.Errorf("validation: %q at %s", st.Validation, st.ValidationAt)
	}
	if age := time.Since(st.LastSync); age > 2*time.Second {
		t.Errorf("last sync %s ago", age)
	}
}

// A replica that cannot be written is reported in words, and the server
// still starts: the bookings are safe on the local disk meanwhile.
func TestReplicationErrorsInWords(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(blocked, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := fileReplica(blocked)
	cfg.FirstSyncTimeout = 3 * time.Second
	cfg.ShutdownSyncTimeout = 100 * time.Millisecond
	r := newReplicated(t, cfg)
	r.writeBookings(t, 2, 0)
	st := r.rep.Status()
	if !strings.Contains(st.LastError, "cannot be written") || st.LastErrorAt.IsZero() {
		t.Errorf("want the error in words, got %q", st.LastError)
	}
	if st.RestoreWindow {
		t.Errorf("a window for an empty replica: %+v", st)
	}
	t.Log(st.LastError)
	// Close reports that the final sync failed; the store is fine.
	r.once.Do(func() {
		r.s.Close()
		if err := r.rep.Close(context.Background()); err == nil {
			t.Error("Close: no error although the replica cannot be written")
		}
	})
}

// An SFTP server that does not answer: the server starts anyway (after
// FirstSyncTimeout) and says why replication is not running.
func TestReplicationUnreachableReplica(t *testing.T) {
	cfg := unreachableSFTP()
	cfg.FirstSyncTimeout = 300 * time.Millisecond
	start := time.Now()
	r := newReplicated(t, cfg)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("start took %s", d)
	}
	r.writeBookings(t, 2, 0)
	st := r.rep.Status()
	if !strings.Contains(st.LastError, "does not answer") || !st.LastSync.IsZero() {
		t.Errorf("status: %+v", st)
	}
	select {
	case <-r.rep.firstSync:
		t.Error("replication started without a replica")
	default:
	}
	r.once.Do(func() {
		r.s.Close()
		if err := r.rep.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "nothing reached the replica") {
			t.Errorf("Close: %v", err)
		}
	})
}

// unreachableSFTP points at a port nothing listens on.
func unreachableSFTP() ReplicaConfig {
	cfg := fileReplica("")
	cfg.Type, cfg.Location = "sftp", "sftp nobody@127.0.0.1:1/backup"
	cfg.NewClient = func() (litestream.ReplicaClient, error) {
		c := sftp.NewReplicaClient()
		c.Host, c.User, c.Password, c.Path = "127.0.0.1:1", "nobody", "x", "/backup"
		return c, nil
	}
	return cfg
}

// Litestream takes the write lock once when it starts; StartReplication
// waits for that, so writes right after it never meet a locked database.
func TestReplicationStartupOrder(t *testing.T) {
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := r.bookTent(ctx, r.s, 1+w*5+i, 2+w*5+i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write right after start: %v", err)
	}
	// The schema and the fixture's rows went out with the first sync,
	// the bookings with the next.
	r.close(t)
	res, err := Restore(ctx, cfg, RestoreOptions{OutputPath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Bookings != 40 || res.Summary.SchemaVersion == 0 || res.Summary.Table("users").Rows != 2 {
		t.Errorf("restored: %+v", res.Summary)
	}
}

// BenchmarkCreateBookingReplicated is store's BenchmarkCreateBooking with
// Litestream replicating to a file replica, as in production: one member
// booking after the other, and eight at once (their changes may share a
// commit, see store/group.go).
func BenchmarkCreateBookingReplicated(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cfg := fileReplica(filepath.Join(b.TempDir(), "replica"))
			cfg.SyncInterval, cfg.MonitorInterval = time.Second, time.Second // production values
			r := newReplicated(b, cfg)
			ctx := context.Background()
			accs := make([]*store.Accommodation, 8)
			for i := range accs {
				accs[i] = r.accommodation(b, fmt.Sprintf("Raum %d", i), "room", 100)
			}
			// One member books thousands of stays: no limit on pending requests.
			in := r.s.Settings().Input()
			in.MaxPendingBedNights = 0
			if err := r.s.UpdateSettings(ctx, r.admin, in); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			book := func() {
				i := int(n.Add(1))
				arr := today + store.Date(i%300)
				_, err := r.s.CreateBooking(ctx, r.member, store.BookingInput{Arrival: arr, Departure: arr + 2,
					Items: []store.Item{{AccommodationID: accs[i%8].ID, Persons: 1}}})
				if err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if clients == 1 {
				for b.Loop() {
					book()
				}
				return
			}
			b.SetParallelism(clients) // × GOMAXPROCS goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					book()
				}
			})
		})
	}
}

// BenchmarkRawCommit is the yardstick of DESIGN.md's budget: a transaction of
// two INSERTs with BEGIN IMMEDIATE and synchronous=FULL on a connection with
// the store writer's pragmas, without any rules. Creating a booking should
// reach at least half of the replicated rate.
func BenchmarkRawCommit(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		rawCommits(b, filepath.Join(b.TempDir(), "raw.db"))
	})
	b.Run("replicated", func(b *testing.B) {
		cfg := fileReplica(filepath.Join(b.TempDir(), "replica"))
		cfg.SyncInterval, cfg.MonitorInterval = time.Second, time.Second
		r := newReplicated(b, cfg)
		rawCommits(b, r.dbPath)
	})
}

// rawCommits opens a connection of its own, with the pragmas of the store's
// writer (the store keeps its writer to itself), and commits in a loop.
func rawCommits(b *testing.B, dbPath string) {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=cache_size(-1024)"+
		"&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	// The store's page size too (it must come before WAL mode).
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", store.PageSize)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE raw_a (id INTEGER PRIMARY KEY, v TEXT) STRICT;
		CREATE TABLE raw_b (id INTEGER PRIMARY KEY, a INTEGER, n INTEGER) STRICT`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO raw_a (v) VALUES (?) RETURNING id`, "x").Scan(&id); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO raw_b (a, n) VALUES (?, ?)`, id, i); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
