package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"booking/handlers"
	"booking/store"
)

// monthEnv is a house with 6 accommodations and about 60 bookings in
// August, seen by a logged-in member.
func monthEnv(b testing.TB) (*env, http.Handler, *http.Cookie) {
	return monthEnvConfigured(b, nil)
}

func monthEnvConfigured(b testing.TB, configure func(*store.Store, *handlers.Config)) (*env, http.Handler, *http.Cookie) {
	e := newEnvConfigured(b, configure)
	ctx := context.Background()
	accs := []*store.Accommodation{e.room, e.tent}
	for i := range 4 {
		a, err := e.st.CreateAccommodation(ctx, e.admin, store.AccommodationInput{Name: fmt.Sprintf("Raum %d", i), Kind: "room", Beds: 20})
		if err != nil {
			b.Fatal(err)
		}
		accs = append(accs, a)
	}
	users := []*store.User{e.anna, e.ben, e.admin}
	for i := range 60 {
		a := accs[2+i%4]
		arr := today.AddDays(i % 28)
		if _, err := e.st.CreateBooking(ctx, users[i%3], store.BookingInput{Arrival: arr, Departure: arr.AddDays(1 + i%3),
			Items: []store.Item{{AccommodationID: a.ID, Persons: 1 + i%2}}}); err != nil {
			b.Fatal(err)
		}
	}
	return e, e.srv.Config.Handler, sessionHTTPCookie(e.as(e.anna))
}

func serveCalendar(b *testing.B, h http.Handler, cookie *http.Cookie) {
	serveGet(b, h, "/calendar?month=2026-08", cookie)
}

// serveGet serves one page in-process to the holder of cookie and returns
// it.
func serveGet(t testing.TB, h http.Handler, path string, cookie *http.Cookie) string {
	return serveGetContext(t, context.Background(), h, path, cookie)
}

// serveGetContext is serveGet with the request's context.
func serveGetContext(t testing.TB, ctx context.Context, h http.Handler, path string, cookie *http.Cookie) string {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.AddCookie(cookie)
	req.Header.Set("Accept-Language", "de")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: status %d", path, w.Code)
	}
	return w.Body.String()
}

// cpuTime is the CPU time the process has used so far (user + system, all
// threads): on a shared machine it holds steadier than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCalendarPage is a member opening the month view through the whole
// router: session lookup, user, cached month body, layout.
func BenchmarkCalendarPage(b *testing.B) {
	_, h, cookie := monthEnv(b)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		serveCalendar(b, h, cookie)
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkCalendarPageUncached is the first view of the month after a
// change, without the change's own time: a booking in the month being viewed
// (the worst case: the month must be read and put together again), one in
// another month, and an accommodation switched on (which the month does not
// show, but which may rename what it shows, so it counts as a change of
// everything).
func BenchmarkCalendarPageUncached(b *testing.B) {
	b.Run("this-month", func(b *testing.B) { benchAfterChange(b, bookingChanges(today.AddDays(9))) })
	b.Run("other-month", func(b *testing.B) { benchAfterChange(b, bookingChanges(today.AddMonths(2).AddDays(9))) })
	b.Run("accommodation", func(b *testing.B) {
		benchAfterChange(b, func(e *env) func() error {
			return func() error { return e.st.SetAccommodationActive(context.Background(), e.admin, e.room.ID, true) }
		})
	})
}

// bookingChanges goes round the life of a booking arriving on arrival, one
// write per call: created (pending), accepted, cancelled, and again.
func bookingChanges(arrival store.Date) func(e *env) func() error {
	return func(e *env) func() error {
		ctx := context.Background()
		var id int64
		step := 0
		return func() error {
			defer func() { step = (step + 1) % 3 }()
			switch step {
			case 0:
				bk, err := e.st.CreateBooking(ctx, e.ben, store.BookingInput{Arrival: arrival, Departure: arrival.AddDays(2),
					Items: []store.Item{{AccommodationID: e.tent.ID, Persons: 2}}})
				if err != nil {
					return err
				}
				id = bk.ID
				return nil
			case 1:
				return e.st.AcceptBooking(ctx, e.admin, id)
			default:
				return e.st.CancelBooking(ctx, e.admin, id)
			}
		}
	}
}

func benchAfterChange(b *testing.B, changes func(e *env) func() error) {
	e, h, cookie := monthEnv(b)
	change := changes(e)
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		if err := change(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c := cpuTime()
		serveCalendar(b, h, cookie)
		cpu += cpuTime() - c
	}
	// Without the write's own time (the collector's work for its garbage
	// may still land here).
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkCalendarCacheMemory reports the heap the calendar's caches hold
// once 50 members have each looked at three months: what grows with the
// number of viewers. Each round starts a server with empty caches on the
// same database; the sessions are loaded by a first page before the count
// starts, so only the calendar's share is counted.
func BenchmarkCalendarCacheMemory(b *testing.B) {
	const viewers, months = 50, 3
	var cfg handlers.Config
	e, _, _ := monthEnvConfigured(b, func(_ *store.Store, c *handlers.Config) { cfg = *c })
	ctx := context.Background()
	var cookies []*http.Cookie
	for i := range viewers {
		u, err := e.st.CreateUser(ctx, store.NewUser{Email: fmt.Sprintf("m%d@example.org", i), Name: fmt.Sprintf("Mitglied %d", i),
			Role: store.RoleMember, State: store.StateApproved, Password: password})
		if err != nil {
			b.Fatal(err)
		}
		cookies = append(cookies, sessionHTTPCookie(e.as(u)))
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	var held int64
	for b.Loop() {
		h, err := handlers.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, ck := range cookies {
			serveGet(b, h, "/bookings", ck)
		}
		before := heap()
		for m := range months {
			for _, ck := range cookies {
				serveGet(b, h, "/calendar?month="+today.AddMonths(m).String()[:7], ck)
			}
		}
		held = int64(heap()) - int64(before)
		runtime.KeepAlive(h)
	}
	b.ReportMetric(float64(held)/1024, "cache-KiB")
}
