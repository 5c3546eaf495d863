package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPiRunbook runs every command of the README's section "The Raspberry
// Pi" in its order, on two stand-in Pis: a fresh install, moving the
// replica to a "USB stick", an upgrade, both rollbacks, and a new SD card
// that gets the bookings back from the stick. The commands run as written
// where they can; what this machine cannot be is stood in for, the same
// way for every command:
//
//   - the Pi is a folder (its "/"); commands that run "booking" run it
//     chrooted into that folder, as root for "sudo", as the user booking
//     for "sudo -u booking", in /home/pi. Other "sudo" commands (install,
//     sed, cp, mkdir) run here with their absolute paths inside the folder;
//   - the installer gets --root (it cannot start a service there), and
//     systemd is systemd-socket-activate + svcman running the installed
//     unit's ExecStart; "journalctl -u booking" is svcman's log; the port
//     is a free loopback port instead of 8080 (so "booking upgrade" gets
//     -url and -systemctl for svcman);
//   - "scp" copies into the Pi's /home/pi; the release is
//     deploy/release.sh's (into a temporary folder), and as this machine
//     is not an ARM one the Pi's "linux-arm64" file is the amd64 binary
//     (the ARM binaries have their own test under qemu); release 1.1.0 is
//     this source with one more migration, as in the upgrade tests;
//   - the USB stick is a folder that moves from the old Pi to the new one.
//
// Every command line in the section's sh blocks must be run here, and
// nothing else: the test fails when the README and the test differ.
func TestPiRunbook(t *testing.T) {
	if os.Geteuid() != 0 {
		ToolMissing(t, "the Pi runbook test chroots and sets file owners: run it as root (sudo go test ./e2e/ -run TestPiRunbook)")
	}
	for _, tool := range []string{"systemd-socket-activate", "systemd-sysusers", "systemctl"} {
		RequireTool(t, tool, "apt-get install systemd")
	}
	RequireTool(t, "tar", "apt-get install tar")
	want := readmeCommands(t)
	rel := release(t)
	bins := upgradeBinaries(t)

	// dist/VERSION/ as the README's computer has it.
	dist := map[string]string{"1.0.0": t.TempDir(), "1.1.0": t.TempDir()}
	for from, to := range map[string]string{
		filepath.Join(rel, "booking-1.0.0-linux-amd64"):    filepath.Join(dist["1.0.0"], "booking-1.0.0-linux-arm64"),
		filepath.Join(rel, "booking-1.0.0-install.tar.gz"): filepath.Join(dist["1.0.0"], "booking-1.0.0-install.tar.gz"),
		bins["v2"]: filepath.Join(dist["1.1.0"], "booking-1.1.0-linux-arm64"),
	} {
		if err := copyFile(from, to); err != nil {
			t.Fatal(err)
		}
	}
	rb := &runbook{t: t, dist: dist, svcman: bins["svcman"], ran: map[string]bool{}}
	old := rb.newPi("old")
	rb.pi = old

	// From a fresh Raspberry Pi OS Lite to a running service.
	rb.do("deploy/release.sh 1.0.0")
	rb.do("scp dist/1.0.0/booking-1.0.0-linux-arm64 dist/1.0.0/booking-1.0.0-install.tar.gz pi@gartenhaus.local:")
	rb.do("tar -xzf booking-1.0.0-install.tar.gz")
	out := rb.do("sudo booking-1.0.0/deploy/install.sh booking-1.0.0-linux-arm64")
	wantIn(t, out, "WARNING: the replica (/var/lib/booking/replica) is on the same disk")
	out = rb.do("journalctl -u booking | grep setup_url")
	m := regexp.MustCompile(`setup_url=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no setup link:\n%s", out)
	}
	if res, err := http.Get(m[1]); err != nil || res.StatusCode != 200 {
		t.Errorf("the setup link %s: %v %v", m[1], res, err)
	}
	rb.stdin = adminPassword + "\n"
	rb.do("sudo -u booking booking user add --admin --email oma@example.org --name Oma")
	wantIn(t, rb.do("curl -s http://localhost:8080/health"), `{"status":"healthy"}`)
	member := logInAs(t, old.base, adminEmail, adminPassword)
	member.addTent()
	first := member.mustBook(5)

	// Moving the replica off the SD card: the stick is mounted.
	if err := os.MkdirAll(filepath.Join(old.root, "mnt/backup"), 0o755); err != nil {
		t.Fatal(err)
	}
	rb.do("sudo install -d -o booking -g booking -m 0700 /mnt/backup/booking")
	rb.do("sudo sed -i 's|path: /var/lib/booking/replica|path: /mnt/backup/booking|' /etc/booking/litestream.yml")
	out = rb.do("sudo booking-1.0.0/deploy/install.sh /usr/local/bin/booking")
	wantIn(t, out, "booking.service.d/replica.conf (the service waits for /mnt/backup/booking")
	rb.do("sudo cp /etc/booking/litestream.yml /mnt/backup/")
	wantIn(t, rb.do("sudo -u booking booking check-config"), "replica:  file /mnt/backup/booking")
	second := member.mustBook(6)

	// Upgrading, and rolling back.
	rb.do("scp dist/1.1.0/booking-1.1.0-linux-arm64 pi@gartenhaus.local:")
	wantIn(t, rb.do("sudo booking upgrade booking-1.1.0-linux-arm64"), "Upgraded to 1.1.0")
	out = rb.mayFail("sudo booking upgrade --rollback")
	wantIn(t, out, "sudo booking upgrade --rollback --restore-backup")
	wantIn(t, rb.do("sudo booking upgrade --rollback --restore-backup"), "Rolled back to 1.0.0")
	third := member.mustBook(7)
	waitForFile(t, old, third)

	// Moving to a new SD card: the old Pi is gone, its stick goes into the
	// new one.
	old.stop()
	card := rb.newPi("new")
	rb.pi = card
	if err := os.MkdirAll(filepath.Join(card.root, "mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(old.root, "mnt/backup"), filepath.Join(card.root, "mnt/backup")); err != nil {
		t.Fatal(err)
	}
	rb.do("scp dist/1.0.0/booking-1.0.0-linux-arm64 dist/1.0.0/booking-1.0.0-install.tar.gz pi@gartenhaus.local:")
	rb.do("tar -xzf booking-1.0.0-install.tar.gz")
	rb.do("sudo mkdir -p /etc/booking")
	rb.do("sudo cp /mnt/backup/litestream.yml /etc/booking/")
	out = rb.do("sudo booking-1.0.0/deploy/install.sh booking-1.0.0-linux-arm64")
	wantIn(t, out, "Kept "+card.root+"/etc/booking/litestream.yml")
	wantIn(t, rb.do("journalctl -u booking | grep 'RESTORED IT FROM THE REPLICA'"), "bookings=3")
	wantIn(t, rb.do("sudo -u booking booking verify-backup"), "Backup check: OK")
	back := logInAs(t, card.base, adminEmail, adminPassword)
	for _, id := range []int64{first, second, third} {
		back.get("/bookings/" + itoa(id))
	}

	// What to watch.
	wantIn(t, rb.do("curl -s http://localhost:8080/health/detailed"), `"status":"healthy"`)
	wantIn(t, rb.do("journalctl -u booking --since today | grep -E 'level=(WARN|ERROR)'"), "THE DATABASE WAS MISSING")

	for _, c := range want {
		if !rb.ran[c] {
			t.Errorf("the README's command %q is not run by this test", c)
		}
	}
	for c := range rb.ran {
		if !contains(want, c) {
			t.Errorf("this test runs %q, which is not in the README's Raspberry Pi section", c)
		}
	}
}

// readmeCommands are the command lines in the sh blocks of the README's
// section on the Raspberry Pi.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## The Raspberry Pi")
	if !ok {
		t.Fatal("README.md has no section \"## The Raspberry Pi\"")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var cmds []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(sec))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && line != "" && !strings.HasPrefix(line, "#"):
			cmds = append(cmds, line)
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("only %d commands in the README's Raspberry Pi section", len(cmds))
	}
	return cmds
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func wantIn(t *testing.T, out, want string) {
	t.Helper()
	if !strings.Contains(out, want) {
		t.Errorf("want %q in:\n%s", want, out)
	}
}

// runbook runs the README's command lines on the stand-in Pi.
type runbook struct {
	t      *testing.T
	dist   map[string]string // version → the computer's dist/VERSION
	svcman string
	pi     *standInPi
	stdin  string // for the next command
	ran    map[string]bool
}

// standInPi is a folder that is a Pi's "/", and its service.
type standInPi struct {
	t        *testing.T
	name     string
	root     string
	uid, gid int
	base     string
	addr     string
	holder   *exec.Cmd
	ctl      string // svcman's folder, inside root
	svcman   string
	log      string
	stopOnce bool
}

func (rb *runbook) newPi(name string) *standInPi {
	t := rb.t
	root := filepath.Join(t.TempDir(), name)
	for _, d := range []string{"home/pi", "run/svcman", "usr/local/sbin", "usr/share/zoneinfo/Europe"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	// The Pi's own files that programs use: /dev/null, the time zones.
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Fatalf("/dev/null for the Pi: %v", err)
	}
	os.Chmod(filepath.Join(root, "dev/null"), 0o666)
	if err := copyFile("/usr/share/zoneinfo/Europe/Berlin", filepath.Join(root, "usr/share/zoneinfo/Europe/Berlin")); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(rb.svcman, filepath.Join(root, "usr/local/sbin/svcman")); err != nil {
		t.Fatal(err)
	}
	p := &standInPi{t: t, name: name, root: root, ctl: "/run/svcman", svcman: "/usr/local/sbin/svcman"}
	p.addr = FreePort(t)
	p.base = "http://" + p.addr
	p.log = filepath.Join(root, "run/svcman/service.log")
	t.Cleanup(p.stop)
	return p
}

// do runs one command line of the README, which must succeed.
func (rb *runbook) do(line string) string {
	rb.t.Helper()
	out, err := rb.exec(line)
	if err != nil {
		rb.t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return out
}

// mayFail runs a command line that is to fail.
func (rb *runbook) mayFail(line string) string {
	rb.t.Helper()
	out, err := rb.exec(line)
	if err == nil {
		rb.t.Fatalf("%s succeeded:\n%s", line, out)
	}
	return out
}

func (rb *runbook) exec(line string) (string, error) {
	rb.t.Helper()
	rb.ran[line] = true
	stdin := rb.stdin
	rb.stdin = ""
	p := rb.pi
	words := splitWords(rb.t, line)
	home := filepath.Join(p.root, "home/pi")
	switch {
	case words[0] == "deploy/release.sh":
		return "release " + words[1] + " built by release()", nil
	case words[0] == "scp":
		for _, f := range words[1 : len(words)-1] {
			parts := strings.SplitN(f, "/", 3) // dist/VERSION/file
			if err := copyFile(filepath.Join(rb.dist[parts[1]], parts[2]), filepath.Join(home, parts[2])); err != nil {
				return "", err
			}
		}
		return "", nil
	case words[0] == "tar":
		return hostRun(home, "", words...)
	case words[0] == "curl":
		res, err := http.Get(strings.Replace(words[len(words)-1], "http://localhost:8080", p.base, 1))
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	case words[0] == "journalctl":
		// A person reads the journal a moment after the start: the
		// stand-in waits up to 10 s for a line that matches.
		i := indexOf(words, "|")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			log, err := os.ReadFile(p.log)
			if err != nil {
				return "", err
			}
			out, err := hostRun(home, string(log), words[i+1:]...)
			if err == nil || time.Now().After(deadline) {
				return out, err
			}
		}
	case len(words) > 3 && words[0] == "sudo" && words[1] == "-u" && words[2] == "booking":
		return p.chrooted(p.uid, p.gid, stdin, p.onPi(words[3:])...)
	case words[0] == "sudo" && strings.HasSuffix(words[1], "/deploy/install.sh"):
		args := append([]string{"sh", words[1], "--root", p.root}, p.paths(words[2:])...)
		out, err := hostRun(home, "", args...)
		if err == nil {
			p.readUser()
			p.restart() // what the installer does where systemd runs
		}
		return out, err
	case words[0] == "sudo" && words[1] == "booking":
		args := p.onPi(words[1:])
		if words[2] == "upgrade" {
			args = append(args[:2], append([]string{"-url", p.base, "-systemctl", p.svcman + " -dir " + p.ctl}, args[2:]...)...)
		}
		return p.chrooted(0, 0, stdin, args...)
	case words[0] == "sudo":
		args := p.paths(words[1:])
		for i := 1; i < len(args); i++ {
			switch {
			case args[i] == "booking" && args[i-1] == "-o":
				args[i] = strconv.Itoa(p.uid) // the user exists only on the Pi
			case args[i] == "booking" && args[i-1] == "-g":
				args[i] = strconv.Itoa(p.gid)
			}
		}
		return hostRun(home, "", args...)
	}
	rb.t.Fatalf("the runbook test does not know how to run %q", line)
	return "", nil
}

// onPi turns "booking ..." into the installed binary's path in the chroot.
func (p *standInPi) onPi(words []string) []string {
	out := append([]string{}, words...)
	if out[0] == "booking" {
		out[0] = "/usr/local/bin/booking"
	}
	return out
}

// paths puts absolute paths inside the Pi's folder (sed's script is not a
// path: it starts with s).
func (p *standInPi) paths(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if strings.HasPrefix(w, "/") {
			w = p.root + w
		}
		out[i] = w
	}
	return out
}

// chrooted runs a program of the Pi inside its folder, in /home/pi.
func (p *standInPi) chrooted(uid, gid int, stdin string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/home/pi"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/pi"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: p.root, Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func hostRun(dir, stdin string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *standInPi) readUser() {
	b, err := os.ReadFile(filepath.Join(p.root, "etc/passwd"))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 7 && f[0] == "booking" {
			p.uid, _ = strconv.Atoi(f[2])
			p.gid, _ = strconv.Atoi(f[3])
			return
		}
	}
	p.t.Fatal("the installer made no user booking")
}

// restart starts the installed unit's ExecStart under svcman, with the
// port held by systemd-socket-activate, or restarts it when it runs.
func (p *standInPi) restart() {
	t := p.t
	if p.holder != nil {
		for _, verb := range []string{"stop", "start"} {
			if out, err := p.chrooted(0, 0, "", p.svcman, "-dir", p.ctl, verb, "booking.service"); err != nil {
				t.Fatalf("svcman %s: %v %s", verb, err, out)
			}
		}
		p.waitHealthy()
		return
	}
	unit, err := os.ReadFile(filepath.Join(p.root, "etc/systemd/system/booking.service"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("no ExecStart in the installed unit")
	}
	execStart := strings.Fields(strings.ReplaceAll(string(m[1]), "http://%H.local:8080", p.base))
	argv := append([]string{filepath.Join(p.root, p.svcman), "-dir", filepath.Join(p.root, p.ctl), "run", "--",
		"chroot", fmt.Sprintf("--userspec=%d:%d", p.uid, p.gid), p.root}, execStart...)
	p.holder = exec.Command("systemd-socket-activate", append([]string{"-l", p.addr}, argv...)...)
	p.holder.Dir = "/"
	if err := p.holder.Start(); err != nil {
		t.Fatal(err)
	}
	p.waitHealthy()
}

func (p *standInPi) waitHealthy() {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		res, err := client.Get(p.base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.log)
			p.t.Fatalf("the %s Pi's service is not healthy:\n%s", p.name, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the Pi's systemd stand-in, which stops the service first.
func (p *standInPi) stop() {
	if p.holder == nil || p.stopOnce {
		return
	}
	p.stopOnce = true
	p.holder.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.holder.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(70 * time.Second):
		p.holder.Process.Kill()
	}
	if p.t.Failed() {
		b, _ := os.ReadFile(p.log)
		p.t.Logf("the %s Pi's service log:\n%s", p.name, b)
	}
}

// waitForFile waits until booking id is in the replica: the stick must
// have it before the old Pi dies.
func waitForFile(t *testing.T, p *standInPi, id int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := p.chrooted(p.uid, p.gid, "", "/usr/local/bin/booking", "restore", "-o", "/tmp/check.db")
		if err == nil {
			os.Remove(filepath.Join(p.root, "tmp/check.db"))
			if strings.Contains(out, "#"+itoa(id)+" ") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("booking %d did not reach the replica: %v\n%s", id, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func indexOf(words []string, w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return len(words)
}

// splitWords splits a command line as sh would for the README's commands:
// at spaces, with '...' and "..." quoting.
func splitWords(t *testing.T, line string) []string {
	var words []string
	var cur strings.Builder
	quote := rune(0)
	inWord := false
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
