package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
