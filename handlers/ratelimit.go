package handlers

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter slows down password guessing: each client IP gets a small bucket
// of attempts for the forms that check a password or a link.
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

func (l *limiter) allow(ip string) bool {
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
	return c.lim.AllowN(now, 1)
}

// limitPosts answers 429 to a client that posts too often.
func (a *app) limitPosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !a.limiter.allow(clientIP(r)) {
			w.Header().Set("Retry-After", "60")
			a.clientError(w, r, http.StatusTooManyRequests, "err.too_many")
			return
		}
		next.ServeHTTP(w, r)
	})
}
