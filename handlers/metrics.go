package handlers

import (
	"context"
	"crypto/subtle"
	"net/http"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"booking/backup"
	"booking/store"
)

// metrics are the server's own Prometheus metrics. They live in a registry
// of their own (tests build many servers in one process); /metrics serves it
// together with the default registry, where the Go and process collectors
// and Litestream's metrics are.
type metrics struct {
	reg              *prometheus.Registry
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	creationAttempts prometheus.Counter
	creationErrors   *prometheus.CounterVec
	failedLogins     prometheus.Counter
}

// Reasons a booking creation failed, the values of the reason label.
var creationErrorReasons = []string{"validation", "no_capacity", "forbidden", "storage_full", "internal"}

func newMetrics(st *store.Store, version string, backups BackupStatus) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route template.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		creationAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "booking_creation_attempts_total",
			Help: "Bookings members tried to create.",
		}),
		creationErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "booking_creation_errors_total",
			Help: "Booking creations that failed, by reason (validation, no_capacity, forbidden, storage_full, internal).",
		}, []string{"reason"}),
		failedLogins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "booking_failed_login_attempts_total",
			Help: "Logins refused for a wrong email or password.",
		}),
	}
	// Every reason exists from the start, so rate() sees the first error.
	for _, r := range creationErrorReasons {
		m.creationErrors.WithLabelValues(r)
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "booking_build_info",
		Help: "Always 1; the labels tell the version of the running server.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.creationAttempts, m.creationErrors, m.failedLogins, buildInfo,
		&storeCollector{st: st, backups: backups})
	return m
}

var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true, "OPTIONS": true}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "other" // clients choose methods: keep the label set bounded
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// storeCollector reads counts from the database at scrape time, so the
// gauges are never out of step with the data.
type storeCollector struct {
	st      *store.Store
	backups BackupStatus
}

var (
	bookingsDesc = prometheus.NewDesc("booking_bookings", "Bookings by status.", []string{"status"}, nil)
	membersDesc  = prometheus.NewDesc("booking_members", "Accounts by state.", []string{"state"}, nil)
	diskFreeDesc = prometheus.NewDesc("booking_data_disk_free_bytes", "Free bytes on the file system of the database, for unprivileged users.", nil, nil)
	diskSizeDesc = prometheus.NewDesc("booking_data_disk_size_bytes", "Size in bytes of the file system of the database.", nil, nil)
	lastSyncDesc = prometheus.NewDesc("booking_replication_last_sync_timestamp_seconds",
		"Unix time of the last successful sync of the database to its replica (0 before the first).", nil, nil)
	// Litestream counts a sync as done once it is on the local disk, and
	// backs off for minutes after failures: these follow the replica.
	replErrorsDesc = prometheus.NewDesc("booking_replication_errors_total",
		"Failed attempts to reach or write the replica since the start, by reason (disk_full, unreachable, timeout, permission, not_writable, login, host_key, other).",
		[]string{"reason"}, nil)
	replFailingDesc = prometheus.NewDesc("booking_replication_failing",
		"1 while the replica does not take changes (from an error until the next successful sync), else 0.", nil, nil)
	damagedDesc = prometheus.NewDesc("booking_database_damaged",
		"1 once a query or the integrity check found the database file damaged (until restored and restarted), else 0.", nil, nil)
	storageFullDesc = prometheus.NewDesc("booking_database_storage_full",
		"1 while writes fail because the disk is full (until a write succeeds), else 0.", nil, nil)
)

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bookingsDesc
	ch <- membersDesc
	ch <- diskFreeDesc
	ch <- diskSizeDesc
	ch <- lastSyncDesc
	ch <- replErrorsDesc
	ch <- replFailingDesc
	ch <- damagedDesc
	ch <- storageFullDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if counts, err := c.st.CountBookingsByStatus(ctx); err == nil {
		for k, v := range counts {
			ch <- prometheus.MustNewConstMetric(bookingsDesc, prometheus.GaugeValue, float64(v), k)
		}
	}
	if counts, err := c.st.CountUsersByState(ctx); err == nil {
		for k, v := range counts {
			ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(v), k)
		}
	}
	if free, size, err := diskSpace(filepath.Dir(c.st.Path())); err == nil {
		ch <- prometheus.MustNewConstMetric(diskFreeDesc, prometheus.GaugeValue, float64(free))
		ch <- prometheus.MustNewConstMetric(diskSizeDesc, prometheus.GaugeValue, float64(size))
	}
	h := c.st.Health()
	ch <- prometheus.MustNewConstMetric(damagedDesc, prometheus.GaugeValue, bit(h.Damaged != ""))
	ch <- prometheus.MustNewConstMetric(storageFullDesc, prometheus.GaugeValue, bit(h.StorageFull))
	if c.backups != nil {
		st := c.backups.Status()
		var ts float64
		if !st.LastSync.IsZero() {
			ts = float64(st.LastSync.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(lastSyncDesc, prometheus.GaugeValue, ts)
		ch <- prometheus.MustNewConstMetric(replFailingDesc, prometheus.GaugeValue, bit(st.Failing))
		// Every reason from the start, so that increase() sees the first error.
		for _, reason := range backup.ErrorReasons {
			ch <- prometheus.MustNewConstMetric(replErrorsDesc, prometheus.CounterValue, float64(st.Errors[reason]), reason)
		}
	}
}

// conventionalNames fixes the names of Litestream's metrics that break the
// Prometheus naming rules promtool checks: counters without _total
// (litestream_sync_count) get it, as an OpenMetrics scrape of client_golang
// shows them anyway, and gauges with it (litestream_l0_retention_files_total)
// lose it.
type conventionalNames struct{ g prometheus.Gatherer }

func (c conventionalNames) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := c.g.Gather()
	renamed := false
	for _, mf := range mfs {
		name := mf.GetName()
		isCounter := mf.GetType() == dto.MetricType_COUNTER
		switch {
		case isCounter && !strings.HasSuffix(name, "_total"):
			name += "_total"
		case !isCounter && strings.HasSuffix(name, "_total"):
			name = strings.TrimSuffix(name, "_total")
		default:
			continue
		}
		mf.Name = &name
		renamed = true
	}
	if renamed {
		sort.Slice(mfs, func(i, j int) bool { return mfs[i].GetName() < mfs[j].GetName() })
	}
	return mfs, err
}

// diskSpace returns the free (for unprivileged users) and total bytes of
// the file system holding dir.
func diskSpace(dir string) (free, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// metricsHandler serves the Prometheus exposition: to the Pi itself, to
// anyone with the bearer token when one is configured, and to everyone with
// -metrics-open. The counts of members and bookings and the failed logins
// are nobody else's business.
func (a *app) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(conventionalNames{prometheus.Gatherers{a.metrics.reg, prometheus.DefaultGatherer}},
		promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case a.metricsOpen || a.isLocal(r) || a.hasMetricsToken(r):
			h.ServeHTTP(w, r)
		case a.metricsToken != "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token", http.StatusUnauthorized)
		default:
			http.Error(w, "metrics only from the server itself: set BOOKING_METRICS_TOKEN, or start with -metrics-open", http.StatusForbidden)
		}
	})
}

func (a *app) hasMetricsToken(r *http.Request) bool {
	if a.metricsToken == "" {
		return false
	}
	got, ok := bearer(r)
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(a.metricsToken)) == 1
}

func bearer(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(prefix) && http.CanonicalHeaderKey(h[:len(prefix)-1]) == "Bearer" {
		return h[len(prefix):], true
	}
	return "", false
}
