// Package deploy holds what runs the server on the Pi and watches it: the
// release and install scripts, the systemd units, fail2ban, and the
// monitoring kit (Prometheus scrape config, alert rules with their unit
// tests, the Grafana dashboard). Its tests run the kit's own checks
// (promtool), the installer into a temporary root and systemd's review of
// the units.
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
