package handlers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestConventionalNames covers the two naming slips of Litestream's metrics
// whatever Litestream happens to have exported when a scrape comes.
func TestConventionalNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "litestream_sync_count", Help: "h"}, []string{"db"})
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "litestream_l0_retention_files_total", Help: "h"}, []string{"db"})
	good := prometheus.NewCounter(prometheus.CounterOpts{Name: "booking_creation_attempts_total", Help: "h"})
	reg.MustRegister(counter, gauge, good)
	counter.WithLabelValues("x").Inc()
	gauge.WithLabelValues("x").Set(3)
	mfs, err := conventionalNames{reg}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{"booking_creation_attempts_total", "litestream_l0_retention_files", "litestream_sync_count_total"}
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v", names, want)
		}
	}
}
