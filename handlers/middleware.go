package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/mux"

	"booking/store"
)

type ctxKey int

const (
	ctxInfo ctxKey = iota
	ctxUser
	ctxAttempt // the limiter's *attempt on a guarded post
)

// reqInfo travels with a request from the outermost middleware to the
// router and back, so the access log and the metrics know the route
// template (never the raw path: bounded cardinality) and the status.
type reqInfo struct {
	id     string
	route  string
	status int
	bytes  int
	// answering is set once the handler inside the session middleware has
	// begun to write its answer (see answerWriter).
	answering bool
}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxInfo).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// statusWriter records what the handler sent.
type statusWriter struct {
	http.ResponseWriter
	ri *reqInfo
}

func (w *statusWriter) WriteHeader(code int) {
	if w.ri.status == 0 {
		w.ri.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.ri.status == 0 {
		w.ri.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.ri.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// slowRequest is how long a page may take before its access line is
// logged even when Config.LogAllRequests is off.
const slowRequest = time.Second

// observe is the outermost middleware: request id, panic recovery, the
// request metrics and the access line (see Config.LogAllRequests). It also
// gives every request a context that its database calls cannot be
// cancelled with, so that no statement starts a goroutine to watch for it;
// store.Detach says why, and what still ends when the visitor goes away.
func (a *app) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: newRequestID(), route: "unmatched"}
		w.Header().Set("X-Request-Id", ri.id)
		sw := &statusWriter{ResponseWriter: w, ri: ri}
		r = r.WithContext(context.WithValue(store.Detach(r.Context()), ctxInfo, ri))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.Error("panic", "request_id", ri.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if ri.status == 0 {
					a.serverError(sw, r, errors.New("panic"))
				}
			}
			if ri.status == 0 {
				ri.status = http.StatusOK
			}
			d := time.Since(start)
			a.metrics.observeRequest(r.Method, ri.route, ri.status, d)
			if a.logAll || (r.Method != http.MethodGet && r.Method != http.MethodHead) || ri.status >= 400 || d >= slowRequest {
				a.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", ri.id), slog.String("method", r.Method), slog.String("route", ri.route),
					slog.Int("status", ri.status), slog.Duration("duration", d), slog.Int("bytes", ri.bytes))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeName is a router middleware: it runs after mux matched, so the route
// template is known.
func routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cr := mux.CurrentRoute(r); cr != nil {
			if tpl, err := cr.GetPathTemplate(); err == nil {
				info(r).route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// secureHeaders are sent with every response. The CSP allows only our own
// scripts and styles; no inline script runs.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds request bodies: the largest form is a booking with a few
// hundred characters of notes.
const maxBody = 64 << 10

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// Session keys.
const (
	sessUserID = "user_id"
	sessRole   = "role"
	sessFlash  = "flash"
)

func (a *app) sessionsOf(r *http.Request) *scs.SessionManager {
	if r.Context().Value(ctxUser) == nil {
		return nil // outside the session chain (static files, health)
	}
	return a.sessions
}

// withSession loads the session and the logged-in user. A user who was
// disabled or rejected meanwhile is logged out here, on the next request; a
// changed role renews the session token.
func (a *app) withSession(next http.Handler) http.Handler {
	return a.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var u *store.User
		if id := a.sessions.GetInt64(ctx, sessUserID); id != 0 {
			var err error
			u, err = a.store.User(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				u = nil
			case err != nil:
				a.serverError(w, r.WithContext(context.WithValue(ctx, ctxUser, (*store.User)(nil))), err)
				return
			}
			if u == nil || (u.State != store.StateApproved && u.State != store.StateRegistered && u.State != store.StateVerified) {
				u = nil
				if err := a.sessions.Destroy(ctx); err != nil {
					a.log.Warn("destroy session", "err", err)
				}
			} else if a.sessions.GetString(ctx, sessRole) != u.Role {
				if err := a.sessions.RenewToken(ctx); err != nil {
					a.serverError(w, r, err)
					return
				}
				a.sessions.Put(ctx, sessRole, u.Role)
			}
		}
		next.ServeHTTP(&answerWriter{ResponseWriter: w, ri: info(r)}, r.WithContext(context.WithValue(ctx, ctxUser, u)))
	}))
}

// answerWriter notes that the handler has begun its answer before scs
// saves the session on the way to the client: a session that cannot be
// saved then must not get an error page of its own (see New).
type answerWriter struct {
	http.ResponseWriter
	ri *reqInfo
}

func (w *answerWriter) WriteHeader(code int) {
	w.ri.answering = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerWriter) Write(b []byte) (int, error) {
	w.ri.answering = true
	return w.ResponseWriter.Write(b)
}

func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// currentUser is the logged-in user, or nil.
func currentUser(r *http.Request) *store.User {
	u, _ := r.Context().Value(ctxUser).(*store.User)
	return u
}

// requireMember lets approved members through; anonymous visitors go to the
// login page (and come back afterwards), members waiting for approval see a
// page that says so.
func (a *app) requireMember(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r)
		if u == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			a.showError(w, r, http.StatusForbidden, "err.login_required")
			return
		}
		if !u.CanBook() {
			if err := a.render(w, r, http.StatusForbidden, "waiting", &simplePage{}); err != nil {
				a.serverError(w, r, err)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdmin lets approved administrators through.
func (a *app) requireAdmin(next http.Handler) http.Handler {
	return a.requireMember(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !currentUser(r).IsAdmin() {
			a.showError(w, r, http.StatusForbidden, "err.admins_only")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// peerAddr is the address of the direct peer of the connection.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// clientAddr is the client's address: the peer's, unless the peer is a
// proxy named with -trusted-proxy. Then it is the nearest address in
// X-Forwarded-For that is not one of those proxies: each proxy appends the
// address it saw, so everything left of that is the client's own words.
func (a *app) clientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !a.proxies.Contains(peer) {
		return peer
	}
	hops := forwardedFor(r)
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // a proxy would not write that: trust nothing left of it
		}
		if ip = ip.Unmap(); !a.proxies.Contains(ip) {
			return ip
		}
	}
	return peer
}

// clientIP is clientAddr for logs (the fail2ban line).
func (a *app) clientIP(r *http.Request) string { return a.clientAddr(r).String() }

// forwardedFor is every X-Forwarded-For entry, in order, over all the
// header's lines.
func forwardedFor(r *http.Request) []string {
	var hops []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// forwarded tells whether a request says it came through a proxy.
func forwarded(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// isLocal tells whether the request comes from the server itself. A direct
// loopback connection is local unless it says it was forwarded, or its
// peer is a trusted proxy (a reverse proxy or tunnel on the Pi): then only a
// loopback client named by that proxy is.
func (a *app) isLocal(r *http.Request) bool {
	peer := peerAddr(r)
	if !peer.IsLoopback() {
		return false
	}
	if a.proxies.Contains(peer) {
		return len(forwardedFor(r)) > 0 && a.clientAddr(r).IsLoopback()
	}
	return !forwarded(r)
}

// isHTTPS tells whether the client reached us over HTTPS: directly, or
// through a trusted proxy that says so.
func (a *app) isHTTPS(r *http.Request) bool {
	return r.TLS != nil || a.proxies.Contains(peerAddr(r)) && r.Header.Get("X-Forwarded-Proto") == "https"
}
