package handlers

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter slows down password and link guessing: each client IP has a small
// bucket of failed attempts on the forms that check a password or a link.
// Only failures take from it, so a family logging in from one router's
// address is never locked out by its own successful logins.
type limiter struct {
	mu      sync.Mutex
	clients map[string]*client
	every   rate.Limit
	burst   int
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(every time.Duration, burst int) *limiter {
	return &limiter{clients: map[string]*client{}, every: rate.Every(every), burst: burst}
}

// blocked tells whether the client has used up its failed attempts.
func (l *limiter) blocked(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.clients[ip]
	return ok && c.lim.TokensAt(time.Now()) < 1
}

// failed takes one attempt from the client's bucket.
func (l *limiter) failed(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	c, ok := l.clients[ip]
	if !ok {
		// Forget quiet clients so the map cannot grow without bound.
		if len(l.clients) > 10000 {
			for k, v := range l.clients {
				if now.Sub(v.seen) > 10*time.Minute {
					delete(l.clients, k)
				}
			}
		}
		c = &client{lim: rate.NewLimiter(l.every, l.burst)}
		l.clients[ip] = c
	}
	c.seen = now
	c.lim.AllowN(now, 1)
}

// limitPosts answers 429 to a client that failed too often; a post that
// ends in a 4xx (wrong password, bad link, refused form) counts as a failure.
func (a *app) limitPosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		ip := clientIP(r)
		if a.limiter.blocked(ip) {
			w.Header().Set("Retry-After", "60")
			a.showError(w, r, http.StatusTooManyRequests, "err.too_many")
			return
		}
		next.ServeHTTP(w, r)
		if st := info(r).status; st >= 400 && st < 500 {
			a.limiter.failed(ip)
		}
	})
}
