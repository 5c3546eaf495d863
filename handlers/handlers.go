// Package handlers is the HTTP side of the booking server: the router, the
// middleware, the pages and forms, health and metrics.
package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"booking/backup"
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
	// SecureCookies marks cookies Secure; set it when served over HTTPS.
	SecureCookies bool
	// MetricsToken, when set, is required as a bearer token on /metrics.
	MetricsToken string
	// Backups reports replication state for the admin page and health;
	// nil when replication is off.
	Backups BackupStatus
	// LoginRate and LoginBurst bound password and link attempts per client.
	LoginRate  time.Duration
	LoginBurst int
	// CertificateExpiry tells when the TLS certificate being served expires
	// (zero before there is one), for booking_tls_certificate_expiry_timestamp_seconds;
	// nil when the server speaks plain HTTP.
	CertificateExpiry func() time.Time
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
	backups      BackupStatus

	// Caches of what only changes with the data, see calendar.go.
	months  *versionedCache[calendarKey, []byte]     // rendered month bodies
	pages   *versionedCache[calendarPageKey, []byte] // whole calendar pages per viewer
	pending *versionedCache[struct{}, int]           // bookings waiting, for the menu
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
	as, err := loadAssets(static.FS)
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	tmpl, err := parseTemplates(templates.FS, as.url)
	if err != nil {
		return nil, err
	}
	sm := scs.New()
	sm.Store = cfg.Store.Sessions()
	sm.Lifetime = cfg.SessionLifetime
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
		backups:      cfg.Backups,
		months:       newVersionedCache[calendarKey, []byte](cfg.Store.Generation, maxCachedMonths),
		pages:        newVersionedCache[calendarPageKey, []byte](cfg.Store.Generation, maxCachedPages),
		pending:      newVersionedCache[struct{}, int](cfg.Store.Generation, 1),
	}
	if cfg.CertificateExpiry != nil {
		a.metrics.reg.MustRegister(certificateExpiryCollector(cfg.CertificateExpiry))
	}
	// A session that cannot be loaded or saved (the database is gone) still
	// gets the friendly page.
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		a.serverError(w, r, fmt.Errorf("session: %w", err))
	}
	return a.routes(), nil
}
