package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshServer is a real OpenSSH server on a loopback port, with a throw-away
// host key and one user key, for the duration of a test.
type sshServer struct {
	addr     string // 127.0.0.1:PORT
	user     string
	hostKey  string // the public host key line, for host-key:
	userKey  string // path of the private key, for key-path:
	dir      string
	logs     *LogBuffer
	sftpRoot string
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	const install = "apt-get install openssh-server openssh-client"
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		sshd = RequireTool(t, "sshd", install)
	}
	keygen := RequireTool(t, "ssh-keygen", install)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range []struct{ typ, file string }{{"ecdsa", "host_key"}, {"ed25519", "user_key"}} {
		if out, err := exec.Command(keygen, "-q", "-t", k.typ, "-N", "", "-C", "booking-test", "-f", filepath.Join(dir, k.file)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "user_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd refuses to start as root without its privilege separation
		// directory, which a container may lack.
		os.MkdirAll("/run/sshd", 0o755)
	}
	s := &sshServer{addr: FreePort(t), user: u.Username, hostKey: strings.TrimSpace(string(hostPub)),
		userKey: filepath.Join(dir, "user_key"), dir: dir, logs: &LogBuffer{}, sftpRoot: filepath.Join(dir, "nas")}
	_, port, _ := net.SplitHostPort(s.addr)
	config := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers %s
Subsystem sftp internal-sftp
LogLevel VERBOSE
`, port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), s.user)
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// -D: stay in the foreground, so the test owns the process; -e: log
	// to stderr, so a failure shows why.
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited:\n%s", s.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen:\n%s", s.logs)
		}
	}
}

// TestSFTPReplica replicates to a real OpenSSH server: the server's status
// names the replica without secrets, and restores (newest and to a point in
// time) come back over SFTP.
func TestSFTPReplica(t *testing.T) {
	sshd := startSSHD(t)
	replica := "      url: sftp://" + sshd.user + "@" + sshd.addr + sshd.sftpRoot + "/booking\n" +
		"      key-path: " + sshd.userKey + "\n" +
		"      host-key: " + sshd.hostKey + "\n"
	s := newSite(t, func(yml string) string {
		out := strings.Replace(yml, "      type: file\n      path: data/replica\n", replica, 1)
		if out == yml {
			t.Fatal("the shipped litestream.yml no longer has the file replica this test replaces")
		}
		return out
	})
	s.addAdmin()
	srv := s.start()
	m := logInAs(t, srv.base, adminEmail, adminPassword)
	m.addTent()
	w := replicaMark(t, s)
	first := []int64{m.mustBook(1), m.mustBook(2), m.mustBook(3)}
	waitForReplica(t, s, w)
	// SFTP keeps file times to the second, and a restore time includes its
	// whole second: the second batch goes into a later second than mid.
	time.Sleep(1100 * time.Millisecond)
	mid := time.Now().Truncate(time.Second).In(houseZone)
	time.Sleep(time.Until(mid.Add(1100 * time.Millisecond)))
	second := []int64{m.mustBook(4), m.mustBook(5)}

	var health struct {
		Replication struct {
			Type, Location, LastError string
			LastSync                  string `json:"last_sync"`
		}
	}
	if err := json.Unmarshal([]byte(m.get("/health/detailed")), &health); err != nil {
		t.Fatal(err)
	}
	r := health.Replication
	if r.Type != "sftp" || r.LastSync == "" || !strings.Contains(r.Location, "sftp "+sshd.user+"@127.0.0.1") ||
		strings.Contains(r.Location, "key") {
		t.Errorf("replication status: %+v", r)
	}
	srv.stop()
	if files, _ := filepath.Glob(filepath.Join(sshd.sftpRoot, "booking", "ltx", "0", "*.ltx")); len(files) == 0 {
		t.Fatalf("nothing arrived on the SFTP server:\n%s", sshd.logs)
	}

	s.mustRun("restore-points")
	s.mustRun("restore", "-o", "latest.db")
	if got := bookingStatuses(t, filepath.Join(s.dir, "latest.db")); len(got) != 5 {
		t.Errorf("newest restore over SFTP: %v", got)
	}
	s.mustRun("restore", "-o", "mid.db", "--timestamp", mid.Format("2006-01-02 15:04:05"))
	got := bookingStatuses(t, filepath.Join(s.dir, "mid.db"))
	for _, id := range first {
		if got[id] == "" {
			t.Errorf("booking %d missing from the restore to %s: %v", id, mid, got)
		}
	}
	for _, id := range second {
		if got[id] != "" {
			t.Errorf("booking %d, made after %s, is in the restore", id, mid)
		}
	}
	if out := s.mustRun("verify-backup"); !strings.HasPrefix(out, "Backup check: OK") {
		t.Errorf("verify-backup over SFTP:\n%s", out)
	}
}
