package handlers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var certificateExpiryDesc = prometheus.NewDesc("booking_tls_certificate_expiry_timestamp_seconds",
	"Unix time at which the TLS certificate the server serves expires (its NotAfter); only while serving HTTPS.", nil, nil)

// certificateExpiryCollector reads the expiry at scrape time: a renewed
// certificate (a new file, or autocert's renewal) shows at the next scrape.
type certificateExpiryCollector func() time.Time

func (c certificateExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- certificateExpiryDesc }

func (c certificateExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	// Before the first certificate (autocert still asking the CA) there is
	// no series rather than a 1970 expiry that would page someone.
	if t := c(); !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(certificateExpiryDesc, prometheus.GaugeValue, float64(t.Unix()))
	}
}
