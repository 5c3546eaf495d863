package handlers

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"booking/store"
)

// limiter slows down password and link guessing on the forms that check a
// password or a link. Each client (an IP address; an IPv6 /64, which one
// household gets) has a bucket of attempts. An attempt takes its token
// before the check, so parallel attempts cannot all pass an "is the bucket
// empty?" test before the first one fails; it gives the token back when it
// succeeds, so a family logging in from one router's address is never
// locked out by its own successful logins.
//
// Password checks are slow on purpose (argon2id, one at a time in the
// store), so the limiter also bounds how many wait for one: a few per
// client, and only a couple in all for clients that failed recently. A flood
// from one client thus keeps at most two checks ahead of anyone else's
// login, and its other requests get 429 at once instead of queueing.
type limiter struct {
	mu      sync.Mutex
	clients map[string]*client
	every   time.Duration // one token comes back per every
	burst   float64
	// suspects counts the checks running for clients that failed recently.
	suspects int
	// slots bounds all the checks running; a client that never failed
	// waits a little for one, a suspect one does not.
	slots chan struct{}
}

// Bounds of the checks in flight. The store hashes one password at a time
// (about 0.1 s on a Pi), so these are also how many hashes a login waits for.
const (
	perClientChecks  = 2               // a double-click, not a flood
	maxSuspectChecks = 2               // all clients that failed recently
	maxChecks        = 6               // all clients
	waitForCheck     = 3 * time.Second // how long a clean client waits for a slot
	forgetClients    = 10000           // map size at which full buckets are forgotten
)

type client struct {
	tokens   float64
	last     time.Time // when tokens was computed
	inFlight int
}

var (
	errTooMany = errors.New("too many attempts")
	errBusy    = errors.New("too many password checks at once")
)

func newLimiter(every time.Duration, burst int) *limiter {
	return &limiter{clients: map[string]*client{}, every: every, burst: float64(burst), slots: make(chan struct{}, maxChecks)}
}

// refill brings c's tokens up to now.
func (l *limiter) refill(c *client, now time.Time) {
	if d := now.Sub(c.last); d > 0 {
		c.tokens = math.Min(l.burst, c.tokens+float64(d)/float64(l.every))
		c.last = now
	}
}

// attempt is one check under way; finish ends it.
type attempt struct {
	l       *limiter
	key     string
	suspect bool
	// charged keeps the token even when the attempt succeeds.
	charged bool
}

// begin takes a token and a slot for one check. errTooMany: the client's
// bucket is empty or it has checks enough running; errBusy: no slot came
// free in time. retry is when asking again makes sense.
func (l *limiter) begin(ctx context.Context, key string) (at *attempt, retry time.Duration, err error) {
	now := time.Now()
	l.mu.Lock()
	c, ok := l.clients[key]
	if !ok {
		if len(l.clients) >= forgetClients {
			l.forgetQuiet(now)
		}
		c = &client{tokens: l.burst, last: now}
		l.clients[key] = c
	}
	l.refill(c, now)
	switch {
	case c.tokens < 1:
		l.mu.Unlock()
		return nil, time.Duration((1 - c.tokens) * float64(l.every)), errTooMany
	case c.inFlight >= perClientChecks:
		l.mu.Unlock()
		return nil, time.Second, errTooMany
	}
	at = &attempt{l: l, key: key, suspect: c.tokens < l.burst}
	if at.suspect && l.suspects >= maxSuspectChecks {
		l.mu.Unlock()
		return nil, time.Second, errTooMany
	}
	c.tokens--
	c.inFlight++
	if at.suspect {
		l.suspects++
	}
	l.mu.Unlock()

	if at.suspect {
		select {
		case l.slots <- struct{}{}:
			return at, 0, nil
		default:
			at.undo(true)
			return nil, time.Second, errTooMany
		}
	}
	timer := time.NewTimer(waitForCheck)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return at, 0, nil
	case <-timer.C:
		at.undo(true)
		return nil, 5 * time.Second, errBusy
	case <-store.CallerDone(ctx):
		at.undo(true)
		return nil, 0, context.Canceled
	}
}

// undo ends the attempt's share of the counts; giveBack returns its token.
func (at *attempt) undo(giveBack bool) {
	l := at.l
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[at.key]
	l.refill(c, time.Now())
	c.inFlight--
	if at.suspect {
		l.suspects--
	}
	if giveBack {
		c.tokens = math.Min(l.burst, c.tokens+1)
	}
}

// finish releases the slot; a success gives the token back unless the
// attempt was charged.
func (at *attempt) finish(success bool) {
	<-at.l.slots
	at.undo(success && !at.charged)
}

// forgetQuiet drops clients whose bucket is full again and that have
// nothing running: they are no different from a client never seen.
func (l *limiter) forgetQuiet(now time.Time) {
	for k, c := range l.clients {
		l.refill(c, now)
		if c.inFlight == 0 && c.tokens >= l.burst {
			delete(l.clients, k)
		}
	}
}

// limiterKey is the bucket of an address: IPv6 clients by their /64, since
// one household gets a whole /64 and could rotate through it.
func limiterKey(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.Unmap().String()
}

// limitPosts guards the posts of forms that check a password or a link:
// 429 to a client that failed too often or already has checks running, 503
// when the server has too many checks waiting. A post that ends in a 4xx
// (wrong password, bad link, refused form) keeps its token.
func (a *app) limitPosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		at, retry, err := a.limiter.begin(r.Context(), limiterKey(a.clientAddr(r)))
		if err != nil {
			// Sessions are not loaded yet: the page is the anonymous one.
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
			if errors.Is(err, errTooMany) {
				a.showError(w, r, http.StatusTooManyRequests, "err.too_many")
			} else {
				a.showError(w, r, http.StatusServiceUnavailable, "err.busy")
			}
			return
		}
		// Deferred, so that a panicking handler does not keep its slot.
		defer func() {
			st := info(r).status
			at.finish(st < 400 || st >= 500)
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxAttempt, at)))
	})
}

// chargeAttempt makes a successful post count against the client's
// attempts too (self-registration: each success creates an account).
func chargeAttempt(r *http.Request) {
	if at, ok := r.Context().Value(ctxAttempt).(*attempt); ok {
		at.charged = true
	}
}
