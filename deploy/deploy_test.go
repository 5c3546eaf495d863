// Package deploy holds the monitoring kit: Prometheus scrape config, alert
// rules with their unit tests, and the Grafana dashboard. This test runs the
// kit's own checks (promtool) as part of go test.
package deploy

import (
	"os"
	"os/exec"
	"testing"
)

// needTool finds a command; in CI a missing tool fails the test, elsewhere
// it skips with what to install.
func needTool(t *testing.T, name, install string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing in CI: %s", name, install)
		}
		t.Skipf("%s not installed: %s", name, install)
	}
}

func TestMonitoringKit(t *testing.T) {
	needTool(t, "promtool", "apt-get install prometheus")
	needTool(t, "python3", "apt-get install python3 python3-yaml")
	cmd := exec.Command("bash", "check.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/check.sh failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
