// Package handlers is the HTTP side of the booking server: the router, the
// middleware, the pages and forms, health and metrics.
package handlers

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"booking/backup"
	"booking/mailer"
	"booking/static"
	"booking/store"
	"booking/templates"
)

// Config is what main.go hands to the handlers.
type Config struct {
	Store   *store.Store
	Logger  *slog.Logger
	Version string
	Started time.Time
	// SessionLifetime is how long a login lasts (phones stay logged in).
	SessionLifetime time.Duration
	// IdleTimeout ends a session that was not used for this long; zero
	// keeps sessions for their whole lifetime (main's flag defaults to 14
	// days).
	IdleTimeout time.Duration
	// SecureCookies marks cookies Secure; set it when served over HTTPS.
	SecureCookies bool
	// MetricsToken, when set, opens /metrics to other hosts that send it as
	// a bearer token. Without it (or MetricsOpen) /metrics answers only
	// the server itself.
	MetricsToken string
	// MetricsOpen opens /metrics to everyone who can reach the server.
	MetricsOpen bool
	// LogAllRequests writes an access line for every request. Without it
	// only requests that change something, fail or are slow are logged:
	// phones looking at the calendar all day would otherwise write to the
	// journal on the SD card all day (the metrics count them anyway).
	LogAllRequests bool
	// Backups reports replication state for the admin page and health;
	// nil when replication is off.
	Backups BackupStatus
	// LoginRate and LoginBurst bound password and link attempts per client.
	LoginRate  time.Duration
	LoginBurst int
	// TrustedProxies are the reverse proxies whose forwarding headers name
	// the client; nobody's by default.
	TrustedProxies TrustedProxies
	// CertificateExpiry tells when the TLS certificate being served expires
	// (zero before there is one), for booking_tls_certificate_expiry_timestamp_seconds;
	// nil when the server speaks plain HTTP.
	CertificateExpiry func() time.Time
	// Mail is the mail sender; nil means mail is off (no SMTP server).
	Mail MailService
	// BaseURL is how members reach the server (serve -base-url), for the
	// calendar feed addresses; empty: the address a request came to.
	BaseURL string
}

// MailService is what the pages need of the mail sender: its effective
// settings, a nudge after "send again", and its metrics.
type MailService interface {
	prometheus.Collector
	MailSettings() mailer.Settings
	Wake()
}

// BackupStatus is what the replication side tells the pages and health.
type BackupStatus interface {
	Status() backup.ReplicationStatus
}

// app holds everything the handlers need; it is built only by New.
type app struct {
	store        *store.Store
	log          *slog.Logger
	version      string
	started      time.Time
	sessions     *scs.SessionManager
	templates    pageTemplates
	assets       *assets
	limiter      *limiter
	metrics      *metrics
	metricsToken string
	metricsOpen  bool
	logAll       bool // see Config.LogAllRequests
	backups      BackupStatus
	proxies      TrustedProxies

	// Caches of what only changes with the data, see calendar.go.
	months  *monthCache                    // rendered month bodies
	pending *versionedCache[struct{}, int] // bookings waiting, for the menu
	// Parts of a month that read the same whatever else changed: keyed by
	// all they show, so they never go stale (version 0 forever).
	dayHeads *versionedCache[dayHeadKey, template.HTML]
	entries  *versionedCache[entryKey, template.HTML]
	agenda   *versionedCache[agendaKey, template.HTML]
	// The calendar page around its body, per kind of viewer, and the body
	// around its weeks and agenda.
	frames    *versionedCache[frameKey, *frame]
	skeletons *versionedCache[skeletonKey, [3][]byte]
	// monthFlight makes concurrent renders of one month one render.
	monthFlight singleflight.Group

	// Mail and calendar feeds, see mail.go and feeds.go.
	mail       MailService
	baseURL    string
	feeds      *versionedCache[feedKey, *feedBody]
	feedStamps *feedStamps
}

// New builds the HTTP handler of the whole server.
func New(cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 30 * 24 * time.Hour
	}
	if cfg.LoginRate == 0 {
		cfg.LoginRate, cfg.LoginBurst = 6*time.Second, 10
	}
	if cfg.Mail == nil {
		off, err := mailer.New(mailer.Config{}, cfg.Store)
		if err != nil {
			return nil, err
		}
		cfg.Mail = off
	}
	as, err := loadAssets(static.FS)
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	tmpl, err := parseTemplates(templates.FS, as.url)
	if err != nil {
		return nil, err
	}
	sm := scs.New()
	codec := newSessionCodec()
	sm.Codec = codec
	sm.Store = cfg.Store.SessionsWith(store.SessionOptions{UserOf: codec.userOf, Refresh: idleRefresh(cfg.IdleTimeout)})
	// A copy of the database (the replica is not encrypted) must not hold
	// live session tokens: only their hashes are stored.
	sm.HashTokenInStore = true
	sm.Lifetime = cfg.SessionLifetime
	sm.IdleTimeout = cfg.IdleTimeout
	sm.Cookie.Name = "booking_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.SecureCookies
	sm.Cookie.Persist = true
	a := &app{
		store: cfg.Store, log: cfg.Logger, version: cfg.Version, started: cfg.Started,
		sessions: sm, templates: tmpl, assets: as,
		limiter:      newLimiter(cfg.LoginRate, cfg.LoginBurst),
		metrics:      newMetrics(cfg.Store, cfg.Version, cfg.Backups),
		metricsToken: cfg.MetricsToken,
		metricsOpen:  cfg.MetricsOpen,
		logAll:       cfg.LogAllRequests,
		backups:      cfg.Backups,
		proxies:      cfg.TrustedProxies,
		months:       newMonthCache(maxCachedMonths),
		pending:      newVersionedCache[struct{}, int](cfg.Store.Generation, 1),
		dayHeads:     newVersionedCache[dayHeadKey, template.HTML](unversioned, maxCachedDayHeads),
		entries:      newVersionedCache[entryKey, template.HTML](unversioned, maxCachedEntries),
		agenda:       newVersionedCache[agendaKey, template.HTML](unversioned, maxCachedAgenda),
		frames:       newVersionedCache[frameKey, *frame](unversioned, maxCachedFrames),
		skeletons:    newVersionedCache[skeletonKey, [3][]byte](unversioned, maxCachedSkeletons),
		mail:         cfg.Mail,
		baseURL:      strings.TrimRight(cfg.BaseURL, "/"),
		feeds:        newVersionedCache[feedKey, *feedBody](cfg.Store.Generation, maxCachedFeeds),
		feedStamps:   &feedStamps{m: map[feedKey]feedBody{}},
	}
	if cfg.CertificateExpiry != nil {
		a.metrics.reg.MustRegister(certificateExpiryCollector(cfg.CertificateExpiry))
	}
	a.metrics.reg.MustRegister(cfg.Mail)
	// A session that cannot be loaded (the database is gone) gets the
	// friendly page. One that cannot be saved while the handler's answer is
	// on its way (scs saves it when the status is written) must not: a
	// second status and page would go out in front of the answer, and the
	// handler's work (a booking) is done. The answer goes out without the
	// session's change (a flash message, a login), and the log says so.
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		if ri := info(r); ri.answering {
			a.log.Warn("the session could not be saved; the answer went out without it", "request_id", ri.id,
				"method", r.Method, "route", ri.route, "err", err)
			return
		}
		a.serverError(w, r, fmt.Errorf("session: %w", err))
	}
	return a.routes(), nil
}
