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
}

type integrityHealth struct {
	At     string `json:"at"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
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
		h.Integrity = &integrityHealth{ir.At.UTC().Format(time.RFC3339), ir.OK, ir.Detail}
		if !ir.OK {
			h.Status = "unhealthy"
		}
	}
	return h
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
// does not answer, degraded when replication lags or errs or the disk is
// nearly full.
func (a *app) showHealthDetailed(w http.ResponseWriter, r *http.Request) {
	if !a.inspectGuard(w, r) {
		return
	}
	out := map[string]any{"version": a.version, "uptime_seconds": int(time.Since(a.started).Seconds())}
	status := "healthy"
	db := a.databaseHealth(r)
	out["database"] = db
	if db.Status != "healthy" {
		status = "unhealthy"
	}
	rep := map[string]any{"enabled": a.backups != nil}
	if a.backups != nil {
		st := a.backups.Status()
		rep["type"], rep["location"] = st.Type, st.Location
		if !st.LastSync.IsZero() {
			age := time.Since(st.LastSync)
			rep["last_sync"], rep["last_sync_age_seconds"] = st.LastSync.UTC().Format(time.RFC3339), int(age.Seconds())
			if age > 5*time.Minute && status == "healthy" {
				status = "degraded"
			}
		} else if time.Since(a.started) > time.Minute && status == "healthy" {
			status = "degraded"
		}
		if st.LastError != "" {
			rep["last_error"] = st.LastError
			if time.Since(st.LastErrorAt) < 5*time.Minute && status == "healthy" {
				status = "degraded"
			}
		}
	}
	out["replication"] = rep
	if free, size, err := diskSpace(filepath.Dir(a.store.Path())); err == nil {
		out["disk"] = map[string]uint64{"free_bytes": free, "size_bytes": size}
		if size > 0 && float64(free)/float64(size) < 0.05 && status == "healthy" {
			status = "degraded"
		}
	}
	out["memory"] = memoryHealth()
	out["status"] = status
	code := http.StatusOK
	if status == "unhealthy" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, out)
}
