package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"booking/e2e"
)

// TestRealPrometheusScrapes runs Debian's Prometheus against the server on
// loopback and asks its API that the target is up and that a booking made
// during the test arrived in booking_creation_attempts_total.
func TestRealPrometheusScrapes(t *testing.T) {
	bin := e2e.RequireTool(t, "prometheus", "apt-get install prometheus")
	e := newEnv(t)
	target := strings.TrimPrefix(e.srv.URL, "http://")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: booking
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := e2e.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	logs := &e2e.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	query := func(q string) (float64, bool) {
		res, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer res.Body.Close()
		var body struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(res.Body).Decode(&body) != nil || len(body.Data.Result) == 0 {
			return 0, false
		}
		var v float64
		fmt.Sscan(fmt.Sprint(body.Data.Result[0].Value[1]), &v)
		return v, true
	}
	waitFor := func(what, q string, want float64) {
		t.Helper()
		for ctx.Err() == nil {
			if v, ok := query(q); ok && v >= want {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("Prometheus never saw %s (%s >= %v)\n%s", what, q, want, logs.String())
	}
	waitFor("the target up", `up{job="booking"}`, 1)
	before, _ := query(`booking_creation_attempts_total{job="booking"}`)
	anna := e.as(e.anna)
	r := anna.post("/bookings", url.Values{"arrival": {d(2)}, "departure": {d(3)}, "persons." + strconvID(e.tent.ID): {"2"}})
	wantRedirect(t, r, "/bookings/")
	waitFor("the booking", `booking_creation_attempts_total{job="booking"}`, before+1)
	waitFor("the pending booking gauge", `booking_bookings{job="booking",status="pending"}`, 1)
}
