// Package deploy holds the monitoring kit: Prometheus scrape config, alert
// rules with their unit tests, and the Grafana dashboard. This test runs the
// kit's own checks (promtool) as part of go test.
package deploy

import (
	"os/exec"
	"testing"

	"booking/e2e"
)

func TestMonitoringKit(t *testing.T) {
	e2e.RequireTool(t, "promtool", "apt-get install prometheus")
	e2e.RequireTool(t, "python3", "apt-get install python3 python3-yaml")
	cmd := exec.Command("bash", "check.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/check.sh failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
