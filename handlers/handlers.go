// Package handlers is the HTTP side of the booking server: the router, the
// middleware, the pages and forms, health and metrics.
package handlers

import (
	"log/slog"
	"net/http"
	"time"

	"booking/store"
)

// Config is what main.go hands to the handlers.
type Config struct {
	Store   *store.Store
	Logger  *slog.Logger
	Version string
	Started time.Time
}

// app holds everything the handlers need; it is built only by New.
type app struct {
	store   *store.Store
	log     *slog.Logger
	version string
	started time.Time
}

// New builds the HTTP handler of the whole server.
func New(cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &app{store: cfg.Store, log: cfg.Logger, version: cfg.Version, started: cfg.Started}
	return a.routes(), nil
}
