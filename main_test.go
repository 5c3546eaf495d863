package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"booking/store"
)

// inTempDir runs the test in a fresh folder with the shipped config, as a
// newcomer would after cloning.
func inTempDir(t *testing.T) string {
	t.Helper()
	cfg, err := os.ReadFile("litestream.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "litestream.yml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return dir
}

func TestUserAddCreatesAnAdminWhoCanLogIn(t *testing.T) {
	dir := inTempDir(t)
	ctx := context.Background()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"user", "add", "--email", "oma@example.org", "--name", "Oma", "--admin"},
		strings.NewReader("Apfelkuchen mit Sahne\n"), &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "created admin Oma <oma@example.org>") || strings.Contains(out.String(), "password:") {
		t.Errorf("output: %s", out.String())
	}
	// Without a password on stdin, one is made up and shown once.
	out.Reset()
	if code := run(ctx, []string{"user", "add", "--email", "opa@example.org", "--name", "Opa"}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no generated password in %q", out.String())
	}
	// The same email again is a clear error.
	errb.Reset()
	if code := run(ctx, []string{"user", "add", "--email", "OMA@example.org", "--name", "Oma"}, strings.NewReader("x1234567\n"), &out, &errb); code != exitError ||
		!strings.Contains(errb.String(), "--email is already registered") {
		t.Errorf("duplicate: exit %d, %q", code, errb.String())
	}
	st, err := store.Open(ctx, filepath.Join(dir, "data", "booking.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.Authenticate(ctx, "oma@example.org", "Apfelkuchen mit Sahne")
	if err != nil || !u.IsAdmin() {
		t.Fatalf("admin login: %v %+v", err, u)
	}
	if _, err := st.Authenticate(ctx, "opa@example.org", m[1]); err != nil {
		t.Errorf("generated password does not work: %v", err)
	}
}

func TestCommandLineErrors(t *testing.T) {
	inTempDir(t)
	ctx := context.Background()
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"serve", "-addr"}, exitUsage, "flag needs an argument"},
		{[]string{"serve", "-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"user"}, exitUsage, `the only subcommand is "add"`},
		{[]string{"user", "add", "--email", "a@b.c"}, exitUsage, "--email and --name are required"},
		{[]string{"user", "add", "--email", "a@b.c", "--name", "A", "-tz", "Mars/Olympus"}, exitError, "is not a time zone"},
		{[]string{"user", "add", "--email", "a@b.c", "--name", "A", "-config", "missing.yml"}, exitError, "missing.yml"},
		{[]string{"user", "add", "--email", "nope", "--name", "A"}, exitError, "--email is not an email address"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(ctx, tc.args, strings.NewReader("longenough\n"), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
	var out bytes.Buffer
	if run(ctx, []string{"version"}, nil, &out, &out) != exitOK || !strings.HasPrefix(out.String(), "booking ") {
		t.Errorf("version: %q", out.String())
	}
	out.Reset()
	if run(ctx, []string{"help"}, nil, &out, &out) != exitOK || !strings.Contains(out.String(), "booking user add") {
		t.Errorf("help: %q", out.String())
	}
}

// TestServeAnswersHealthAndPrintsTheSetupLink is "go run ." in a fresh
// folder: it serves /health, logs a working setup link, and stops cleanly.
func TestServeAnswersHealthAndPrintsTheSetupLink(t *testing.T) {
	inTempDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The server writes its log to a file, which the test can read while
	// it is written.
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	logs := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, nil, logf, logf) }()
	var addr, setup string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && (addr == "" || setup == "") {
		if m := regexp.MustCompile(`msg=serving addr=(\S+)`).FindStringSubmatch(logs()); m != nil {
			addr = m[1]
		}
		if m := regexp.MustCompile(`setup_url=http://localhost:\d+(/setup/\w+)`).FindStringSubmatch(logs()); m != nil {
			setup = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if addr == "" || setup == "" {
		cancel()
		t.Fatalf("server did not start and announce the setup link:\n%s", logs())
	}
	res, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("/health: %d", res.StatusCode)
	}
	res, err = http.Get("http://" + addr + setup)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("setup link: %d", res.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d:\n%s", code, logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

// TestBackupCommandLineErrors: the backup commands refuse bad input with
// status 2 and one line, and say what is wrong with the replica with
// status 1.
func TestBackupCommandLineErrors(t *testing.T) {
	dir := inTempDir(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"restore"}, exitUsage, "give either -o FILE (a new file) or --replace"},
		{[]string{"restore", "-o", "x.db", "--replace"}, exitUsage, "give either -o FILE"},
		{[]string{"restore", "-o", "x.db", "--timestamp", "2026-11-20 18:00", "--txid", "1f"}, exitUsage, "not both"},
		{[]string{"restore", "-o", "x.db", "--timestamp", "yesterday"}, exitUsage, `"yesterday" is not a time`},
		{[]string{"restore", "-o", "x.db", "--txid", "zz"}, exitUsage, "is not a transaction id"},
		{[]string{"restore", "-o", "x.db", "-tz", "Mars/Olympus"}, exitError, "is not a time zone"},
		{[]string{"restore-points", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"backup"}, exitUsage, "-o FILE is required"},
		{[]string{"verify-backup", "-max-lag", "soon"}, exitUsage, "invalid value"},
		// Nothing replicated yet: every command says so.
		{[]string{"restore-points"}, exitError, "the replica holds no backup yet"},
		{[]string{"restore", "-o", "x.db"}, exitError, "the replica holds no backup yet"},
		{[]string{"backup", "-o", "x.db"}, exitError, "there is no database at"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(""), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"verify-backup"}, nil, &out, &errb); code != exitError ||
		!strings.HasPrefix(out.String(), "Backup check: BROKEN") || !strings.Contains(out.String(), "holds no backup") {
		t.Errorf("verify-backup without a backup: %d %s %s", code, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("a failed command left x.db")
	}
}
