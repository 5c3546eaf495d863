package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// showHealth is the liveness probe: cheap and without database work, so a
// slow disk never makes a supervisor restart a healthy process.
func (a *app) showHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"status":"error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// mayInspect allows the detailed health endpoints, which reveal internals,
// to loopback clients, administrators and holders of the metrics token.
func (a *app) mayInspect(r *http.Request) bool {
	if a.isLocal(r) || a.hasMetricsToken(r) {
		return true
	}
	return a.sessionAdmin(r)
}

// sessionAdmin tells whether the request's session belongs to an approved
// administrator. It only reads: no renewal, no new expiry, no cookie. (The
// session chain would commit into a response nobody sees: a renewed token
// would log the administrator out, a refreshed one would keep an idle
// session alive for a monitoring probe.)
func (a *app) sessionAdmin(r *http.Request) bool {
	c, err := r.Cookie(a.sessions.Cookie.Name)
	if err != nil || c.Value == "" {
		return false
	}
	ctx, err := a.sessions.Load(r.Context(), c.Value)
	if err != nil {
		return false
	}
	id := a.sessions.GetInt64(ctx, sessUserID)
	if id == 0 {
		return false
	}
	u, err := a.store.User(ctx, id)
	// A session from before a role change is not an administrator's yet.
	return err == nil && u.IsAdmin() && a.sessions.GetString(ctx, sessRole) == u.Role
}

func (a *app) inspectGuard(w http.ResponseWriter, r *http.Request) bool {
	if !a.mayInspect(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "only from the server itself, for administrators, or with the metrics token"})
		return false
	}
	return true
}

type dbHealth struct {
	Status     string           `json:"status"`
	PingMillis float64          `json:"ping_ms"`
	FileBytes  int64            `json:"file_bytes"`
	WALBytes   int64            `json:"wal_bytes"`
	Error      string           `json:"error,omitempty"`
	PageCount  int64            `json:"page_count"`
	Integrity  *integrityHealth `json:"last_integrity_check"`
	// Problems say in words what makes it unhealthy and what to do.
	Problems []string `json:"problems,omitempty"`
}

type integrityHealth struct {
	At     string `json:"at"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// healthTime is how instants appear in health answers.
func healthTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// databaseProblems are what the store has seen go wrong with its file, in
// words an administrator can act on.
func (a *app) databaseProblems() []string {
	var ps []string
	h := a.store.Health()
	if h.Damaged != "" {
		ps = append(ps, fmt.Sprintf("the database file is damaged (seen %s: %s): stop the server and restore the newest backup with \"booking restore --replace\" (README, \"Restoring the bookings\")",
			healthTime(h.DamagedAt), h.Damaged))
	}
	if h.StorageFull {
		ps = append(ps, fmt.Sprintf("the server's storage is full (since %s): nothing can be saved until space is freed on the disk that holds %s",
			healthTime(h.StorageFullAt), filepath.Dir(a.store.Path())))
	}
	return ps
}

func (a *app) databaseHealth(r *http.Request) dbHealth {
	h := dbHealth{Status: "healthy"}
	start := time.Now()
	if err := a.store.Ping(r.Context()); err != nil {
		h.Status, h.Error = "unhealthy", "database does not answer"
		a.log.Error("health: ping", "err", err)
	}
	h.PingMillis = float64(time.Since(start).Microseconds()) / 1000
	if fi, err := os.Stat(a.store.Path()); err == nil {
		h.FileBytes = fi.Size()
	}
	if fi, err := os.Stat(a.store.Path() + "-wal"); err == nil {
		h.WALBytes = fi.Size()
	}
	h.PageCount, _ = a.store.PageCount(r.Context())
	if ir := a.store.LastIntegrity(); ir != nil {
		h.Integrity = &integrityHealth{healthTime(ir.At), ir.OK, ir.Detail}
		if !ir.OK {
			h.Status = "unhealthy"
		}
	}
	if h.Problems = a.databaseProblems(); len(h.Problems) > 0 {
		h.Status = "unhealthy"
	}
	return h
}

// Below either of these the data disk is almost full (the alert
// BookingDiskAlmostFull uses the same numbers): SQLite, its -wal and
// Litestream's files need room to grow.
const (
	lowDiskFraction = 0.10
	lowDiskBytes    = 50e6
)

// diskReport is the free space of the disk that holds the database.
type diskReport struct {
	Free, Size uint64
	Low        bool
}

func (a *app) disk() (diskReport, error) {
	free, size, err := diskSpace(filepath.Dir(a.store.Path()))
	if err != nil {
		return diskReport{}, err
	}
	return diskReport{Free: free, Size: size, Low: size > 0 && (float64(free)/float64(size) < lowDiskFraction || float64(free) < lowDiskBytes)}, nil
}

func (d diskReport) Percent() float64 {
	if d.Size == 0 {
		return 0
	}
	return 100 * float64(d.Free) / float64(d.Size)
}

// formatBytes is a size for a person: "48.2 MB" (decimal units, as disks
// are sold and df -H shows them).
func formatBytes(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

type memHealth struct {
	RSSBytes       int64  `json:"rss_bytes"`
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	HeapSysBytes   uint64 `json:"heap_sys_bytes"`
	SysBytes       uint64 `json:"sys_bytes"`
	Goroutines     int    `json:"goroutines"`
	NumGC          uint32 `json:"num_gc"`
}

func memoryHealth() memHealth {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memHealth{RSSBytes: rss(), HeapAllocBytes: ms.HeapAlloc, HeapSysBytes: ms.HeapSys, SysBytes: ms.Sys,
		Goroutines: runtime.NumGoroutine(), NumGC: ms.NumGC}
}

// rss reads the resident set size from /proc (Linux); -1 elsewhere.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize())
}

func (a *app) showHealthMemory(w http.ResponseWriter, r *http.Request) {
	if a.inspectGuard(w, r) {
		writeJSON(w, http.StatusOK, memoryHealth())
	}
}

func (a *app) showHealthDatabase(w http.ResponseWriter, r *http.Request) {
	if !a.inspectGuard(w, r) {
		return
	}
	h := a.databaseHealth(r)
	status := http.StatusOK
	if h.Status != "healthy" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

// showHealthDetailed sums up the parts: unhealthy (503) when the database
// does not answer, is damaged or cannot be written for lack of space, or
// when replication refused to start; degraded while the replica cannot be
// written or lags, or the disk is almost full. "problems" says why, in
// words.
func (a *app) showHealthDetailed(w http.ResponseWriter, r *http.Request) {
	if !a.inspectGuard(w, r) {
		return
	}
	out := map[string]any{"version": a.version, "uptime_seconds": int(time.Since(a.started).Seconds())}
	status := "healthy"
	worse := func(s string) {
		if s == "unhealthy" || status == "healthy" {
			status = s
		}
	}
	db := a.databaseHealth(r)
	out["database"] = db
	if db.Status != "healthy" {
		worse("unhealthy")
	}
	problems := append([]string{}, db.Problems...)
	if db.Error != "" {
		problems = append(problems, db.Error)
	}
	if db.Integrity != nil && !db.Integrity.OK && len(db.Problems) == 0 {
		problems = append(problems, "the last integrity check failed: "+db.Integrity.Detail)
	}
	rep := map[string]any{"enabled": a.backups != nil}
	if a.backups != nil {
		st := a.backups.Status()
		rep["type"], rep["location"] = st.Type, st.Location
		rep["failing"] = st.Failing
		rep["errors"] = st.Errors
		if !st.LastSync.IsZero() {
			age := time.Since(st.LastSync)
			rep["last_sync"], rep["last_sync_age_seconds"] = healthTime(st.LastSync), int(age.Seconds())
			if age > 5*time.Minute {
				worse("degraded")
				problems = append(problems, fmt.Sprintf("the last sync to the replica was %s ago", age.Round(time.Second)))
			}
		} else if time.Since(a.started) > time.Minute {
			worse("degraded")
			problems = append(problems, "nothing has reached the replica since the server started")
		}
		if st.LastError != "" {
			rep["last_error"], rep["last_error_at"] = st.LastError, healthTime(st.LastErrorAt)
		}
		// The replica's state now, not "an error in the last few minutes":
		// failing ends with the first sync that gets through.
		if st.Failing {
			rep["failing_since"] = healthTime(st.FailingSince)
			worse("degraded")
			problems = append(problems, fmt.Sprintf("the replica cannot be written (since %s): %s", healthTime(st.FailingSince), st.LastError))
		}
		if st.Stopped != "" {
			rep["stopped"] = st.Stopped
			worse("unhealthy")
			problems = append(problems, "nothing is replicated: "+st.Stopped)
		}
	}
	out["replication"] = rep
	if d, err := a.disk(); err == nil {
		out["disk"] = map[string]uint64{"free_bytes": d.Free, "size_bytes": d.Size}
		if d.Low {
			worse("degraded")
			problems = append(problems, fmt.Sprintf("the disk that holds the database is almost full: %s free of %s (%.0f%%)",
				formatBytes(d.Free), formatBytes(d.Size), d.Percent()))
		}
	}
	out["memory"] = memoryHealth()
	out["status"] = status
	out["problems"] = problems
	code := http.StatusOK
	if status == "unhealthy" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, out)
}
