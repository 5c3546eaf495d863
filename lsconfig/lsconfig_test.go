package lsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"
	"github.com/benbjohnson/litestream/sftp"
)

// Real public keys (no private half kept anywhere): the parser checks that a
// host-key really is one.
const (
	ecdsaKey   = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLOVXPoxYaVbeHHTVNeCfIyeCwuMf/WJqms8ag8/QGfGBfhL2DusVaxOjF3WDu9CFKG/WQ7/ESMtzI6Yr29mx34="
	ed25519Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPXbGwl5lyqlFHFqKgvl2ae7IcLPzZSDht9mODCEA3eC"
)

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func mustParse(t *testing.T, yml string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(yml), "litestream.yml", envFunc(nil))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", yml, err)
	}
	return cfg
}

// wantError checks that parsing fails and that the message contains every
// fragment, e.g. "litestream.yml:7:" and the key.
func wantError(t *testing.T, yml string, env map[string]string, fragments ...string) {
	t.Helper()
	cfg, err := Parse([]byte(yml), "litestream.yml", envFunc(env))
	if err == nil {
		t.Fatalf("Parse succeeded, want an error containing %q\n%s\nconfig: %+v", fragments, yml, cfg)
	}
	if cfg != nil {
		t.Errorf("Parse returned a config along with error %v", err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not contain %q:\n%v", f, err)
		}
	}
}

// db wraps replica lines (indented by six spaces) into a minimal valid file.
func db(replica string) string {
	return "dbs:\n  - path: /srv/booking.db\n    replica:\n" + replica
}

func TestShippedConfig(t *testing.T) {
	data, err := os.ReadFile("../litestream.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, "litestream.yml", envFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DB()
	if d.Path != "data/booking.db" {
		t.Errorf("db path = %q", d.Path)
	}
	r := d.Replica
	if r.Type != "file" || r.Path != "data/replica" || r.URL != "" || r.SyncInterval != time.Second {
		t.Errorf("replica = %+v", r)
	}
	if cfg.Snapshot.Interval != 24*time.Hour || cfg.Snapshot.Retention != 720*time.Hour {
		t.Errorf("snapshot = %+v, want 24h and 720h", cfg.Snapshot)
	}
	want := []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour}
	if len(cfg.Levels) != len(want) {
		t.Fatalf("levels = %+v", cfg.Levels)
	}
	for i, lvl := range cfg.Levels {
		if lvl.Interval != want[i] {
			t.Errorf("levels[%d] = %v, want %v", i, lvl.Interval, want[i])
		}
	}
	if err := cfg.CompactionLevels().Validate(); err != nil {
		t.Error(err)
	}
}

// The commented-out destinations in the shipped file are documentation that
// people will uncomment: each must parse once swapped in.
func TestShippedConfigExamples(t *testing.T) {
	data, err := os.ReadFile("../litestream.yml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	exampleLine := regexp.MustCompile(`^      # ([a-z-]+: .*)$`)
	var examples [][]string
	var cur []string
	for _, l := range lines {
		if m := exampleLine.FindStringSubmatch(l); m != nil {
			cur = append(cur, "      "+m[1])
			continue
		}
		if len(cur) > 0 {
			examples = append(examples, cur)
			cur = nil
		}
	}
	if len(examples) != 3 {
		t.Fatalf("found %d example blocks, want 3 (USB disk, SFTP, S3): %q", len(examples), examples)
	}
	wantTypes := []string{"file", "sftp", "s3"}
	env := map[string]string{"LITESTREAM_ACCESS_KEY_ID": "AKIDEXAMPLE", "LITESTREAM_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG"}
	for i, ex := range examples {
		body := strings.Join(ex, "\n") + "\n"
		// The shipped host key is elided ("AAAA..."): use a real one.
		body = regexp.MustCompile(`host-key: .*`).ReplaceAllString(body, "host-key: nas.local "+ecdsaKey)
		cfg, err := Parse([]byte(db(body)), "litestream.yml", envFunc(env))
		if err != nil {
			t.Errorf("example %d:\n%s\n%v", i, body, err)
			continue
		}
		r := cfg.DB().Replica
		if r.Type != wantTypes[i] {
			t.Errorf("example %d type = %q, want %q", i, r.Type, wantTypes[i])
		}
		if _, err := r.NewClient(); err != nil {
			t.Errorf("example %d NewClient: %v", i, err)
		}
	}
}

func TestReplicaKeys(t *testing.T) {
	tests := []struct {
		name    string
		replica string
		want    ReplicaConfig
	}{
		{"file path", "      type: file\n      path: /mnt/backup\n      sync-interval: 10s\n",
			ReplicaConfig{Type: "file", Path: "/mnt/backup", SyncInterval: 10 * time.Second}},
		{"file is the default type", "      path: backup\n",
			ReplicaConfig{Type: "file", Path: "backup"}},
		{"file url", "      url: file:///mnt/backup\n",
			ReplicaConfig{Type: "file", URL: "file:///mnt/backup"}},
		{"s3 keys", "      type: s3\n      bucket: b\n      path: p/q\n      region: eu-west-1\n      endpoint: https://minio.local:9000\n" +
			"      force-path-style: false\n      access-key-id: AKID\n      secret-access-key: SECRET\n",
			ReplicaConfig{Type: "s3", Bucket: "b", Path: "p/q", Region: "eu-west-1", Endpoint: "https://minio.local:9000",
				AccessKeyID: "AKID", SecretAccessKey: "SECRET", forcePathStyleSet: true}},
		{"s3 url", "      url: s3://b/p\n      force-path-style: yes\n",
			ReplicaConfig{Type: "s3", URL: "s3://b/p", ForcePathStyle: true, forcePathStyleSet: true}},
		{"sftp keys", "      type: sftp\n      host: nas:2222\n      user: pi\n      password: pw\n      key-path: /home/pi/.ssh/id\n      host-key: " + ecdsaKey + "\n      path: /backup\n",
			ReplicaConfig{Type: "sftp", Host: "nas:2222", User: "pi", Password: "pw", KeyPath: "/home/pi/.ssh/id", HostKey: ecdsaKey, Path: "/backup"}},
		{"sftp url", "      url: sftp://pi@nas/backup\n      key-path: id\n      host-key: nas " + ed25519Key + "\n",
			ReplicaConfig{Type: "sftp", URL: "sftp://pi@nas/backup", KeyPath: "id", HostKey: "nas " + ed25519Key}},
		{"type and matching url", "      type: s3\n      url: S3://b/p\n",
			ReplicaConfig{Type: "s3", URL: "S3://b/p"}},
		{"quoted values", "      type: \"s3\"\n      bucket: '123'\n      sync-interval: \"1m30s\"\n",
			ReplicaConfig{Type: "s3", Bucket: "123", SyncInterval: 90 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := *mustParse(t, db(tt.replica)).DB().Replica
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTopLevelKeys(t *testing.T) {
	cfg := mustParse(t, db("      path: /backup\n")+`
snapshot:
  interval: 12h
  retention: 2160h
levels:
  - interval: 1m
  - interval: 1h
validation:
  interval: 6h
`)
	if cfg.Snapshot != (SnapshotConfig{Interval: 12 * time.Hour, Retention: 2160 * time.Hour}) {
		t.Errorf("snapshot = %+v", cfg.Snapshot)
	}
	if cfg.Validation.Interval != 6*time.Hour {
		t.Errorf("validation = %+v", cfg.Validation)
	}
	levels := cfg.CompactionLevels()
	if len(levels) != 3 || levels[0].Level != 0 || levels[0].Interval != 0 ||
		levels[1].Level != 1 || levels[1].Interval != time.Minute || levels[2].Level != 2 || levels[2].Interval != time.Hour {
		t.Errorf("levels = %v %v %v", levels[0], levels[1], levels[2])
	}
	if err := levels.Validate(); err != nil {
		t.Error(err)
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, db("      path: /backup\n"))
	if cfg.Snapshot != (SnapshotConfig{}) || cfg.Validation != (ValidationConfig{}) || cfg.Levels != nil {
		t.Errorf("unset sections should stay zero: %+v", cfg)
	}
	if cfg.DB().Replica.SyncInterval != 0 {
		t.Errorf("sync interval should stay unset")
	}
	levels := cfg.CompactionLevels()
	if len(levels) != len(litestream.DefaultCompactionLevels) {
		t.Fatalf("levels = %d, want upstream defaults", len(levels))
	}
	for i, lvl := range levels {
		if *lvl != *litestream.DefaultCompactionLevels[i] {
			t.Errorf("level %d = %+v, want %+v", i, lvl, litestream.DefaultCompactionLevels[i])
		}
	}
	// The defaults are shared; a caller changing its copy must not change them.
	levels[1].Interval = time.Hour
	if litestream.DefaultCompactionLevels[1].Interval == time.Hour {
		t.Error("CompactionLevels handed out upstream's default levels")
	}
	// Empty sections are fine, as in the CLI.
	mustParse(t, db("      path: /backup\n")+"snapshot:\nvalidation: {}\n")
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"BUCKET": "family", "KEY": "AKID", "SECRET": "s3cr3t/+x", "DIR": "/mnt/usb"}
	yml := db("      type: s3\n      bucket: $BUCKET\n      path: ${DIR}/x\n      access-key-id: ${KEY}\n      secret-access-key: ${SECRET}\n")
	cfg, err := Parse([]byte(yml), "litestream.yml", envFunc(env))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.DB().Replica
	if r.Bucket != "family" || r.Path != "/mnt/usb/x" || r.AccessKeyID != "AKID" || r.SecretAccessKey != "s3cr3t/+x" {
		t.Errorf("replica = %+v", r)
	}

	// nil getenv is the CLI's -no-expand-env: the text stays as written.
	cfg, err = Parse([]byte(db("      path: /backup/$HOST\n")), "litestream.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DB().Replica.Path; got != "/backup/$HOST" {
		t.Errorf("path = %q, want no expansion", got)
	}

	// An unset variable must not silently turn into "use the defaults".
	wantError(t, yml, map[string]string{"BUCKET": "family", "DIR": "/x", "KEY": "AKID"},
		"litestream.yml:8:", "secret-access-key is empty", "${VAR}")
}

func TestLoadExpandsPIDAndResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("LSCONFIG_TEST_DIR", "replica")
	yml := "dbs:\n  - path: data/booking.db\n    replica:\n      path: ${LSCONFIG_TEST_DIR}/$PID\n"
	if err := os.WriteFile("litestream.yml", []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("litestream.yml")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if got, want := cfg.DB().Path, filepath.Join(wd, "data", "booking.db"); got != want {
		t.Errorf("db path = %q, want %q", got, want)
	}
	if got, want := cfg.DB().Replica.Path, filepath.Join(wd, "replica", strconv.Itoa(os.Getpid())); got != want {
		t.Errorf("replica path = %q, want %q", got, want)
	}

	if _, err := Load(filepath.Join(dir, "missing.yml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	if err := os.WriteFile("bad.yml", []byte("dbs: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("bad.yml"); err == nil || !strings.Contains(err.Error(), "bad.yml:1:") {
		t.Errorf("Load error should name the file and line: %v", err)
	}
}

func TestResolvePaths(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	tests := []struct{ db, replica, wantDB, wantReplica string }{
		{"data/booking.db", "data/replica", "/srv/app/data/booking.db", "/srv/app/data/replica"},
		{"./booking.db", "../replica", "/srv/app/booking.db", "/srv/replica"},
		{"/var/lib/booking.db", "/mnt/usb/replica", "/var/lib/booking.db", "/mnt/usb/replica"},
		{"sqlite://data/booking.db", "r", "/srv/app/data/booking.db", "/srv/app/r"},
		{"sqlite3:///var/booking.db", "r", "/var/booking.db", "/srv/app/r"},
	}
	for _, tt := range tests {
		cfg := mustParse(t, "dbs:\n  - path: "+tt.db+"\n    replica:\n      path: "+tt.replica+"\n")
		if err := cfg.ResolvePaths("/srv/app"); err != nil {
			t.Fatal(err)
		}
		if got := cfg.DB().Path; got != tt.wantDB {
			t.Errorf("%s: db path = %q, want %q", tt.db, got, tt.wantDB)
		}
		if got := cfg.DB().Replica.Path; got != tt.wantReplica {
			t.Errorf("%s: replica path = %q, want %q", tt.replica, got, tt.wantReplica)
		}
	}

	// The CLI expands "~" with the user database; under test HOME is the
	// same directory.
	cfg := mustParse(t, "dbs:\n  - path: ~/booking.db\n    replica:\n      path: ~/replica\n")
	if err := cfg.ResolvePaths("/srv/app"); err != nil {
		t.Fatal(err)
	}
	if got := cfg.DB().Path; !filepath.IsAbs(got) || filepath.Base(got) != "booking.db" || strings.Contains(got, "~") {
		t.Errorf("~ not expanded: %q (home %q)", got, home)
	}

	// Remote paths are not local paths.
	cfg = mustParse(t, db("      url: sftp://pi@nas/relative\n      password: pw\n      host-key: "+ecdsaKey+"\n"))
	if err := cfg.ResolvePaths("/srv/app"); err != nil {
		t.Fatal(err)
	}
	if got := cfg.DB().Replica.URL; got != "sftp://pi@nas/relative" {
		t.Errorf("sftp url changed to %q", got)
	}
}

func TestNewClient(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		for _, replica := range []string{"      path: /mnt/usb/replica\n", "      url: file:///mnt/usb/replica\n", "      url: file:/mnt/usb/replica/\n"} {
			c, err := mustParse(t, db(replica)).DB().Replica.NewClient()
			if err != nil {
				t.Fatal(err)
			}
			fc, ok := c.(*file.ReplicaClient)
			if !ok || fc.Path() != "/mnt/usb/replica" {
				t.Errorf("%q: client = %#v", replica, c)
			}
		}
		// Without Load, a relative path is resolved like the CLI does: from
		// the working directory.
		c, err := mustParse(t, db("      path: rel\n")).DB().Replica.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := os.Getwd()
		if got := c.(*file.ReplicaClient).Path(); got != filepath.Join(wd, "rel") {
			t.Errorf("path = %q", got)
		}
	})

	t.Run("s3", func(t *testing.T) {
		tests := []struct {
			replica                        string
			bucket, path, region, endpoint string
			pathStyle                      bool
		}{
			{"      url: s3://family/booking\n", "family", "booking", "", "", false},
			{"      url: s3://family\n", "family", ".", "", "", false},
			{"      url: s3://family.s3.eu-central-1.amazonaws.com/booking\n", "family", "booking", "eu-central-1", "", false},
			{"      url: s3://family/booking?endpoint=minio.local:9000&region=home\n", "family", "booking", "home", "http://minio.local:9000", true},
			{"      url: s3://family/booking?endpoint=s3.example.com:9000\n", "family", "booking", "", "https://s3.example.com:9000", true},
			{"      url: s3://family/booking?endpoint=192.168.1.5:9000&forcePathStyle=false\n", "family", "booking", "", "http://192.168.1.5:9000", false},
			{"      type: s3\n      bucket: family\n      path: booking\n      endpoint: https://s3.eu-central-003.backblazeb2.com\n", "family", "booking", "", "https://s3.eu-central-003.backblazeb2.com", true},
			{"      type: s3\n      bucket: family\n      endpoint: https://x.r2.cloudflarestorage.com\n      force-path-style: false\n", "family", "", "", "https://x.r2.cloudflarestorage.com", false},
			{"      url: s3://arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap/booking\n", "arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap", "booking", "us-west-2", "", false},
		}
		for _, tt := range tests {
			c, err := mustParse(t, db(tt.replica)).DB().Replica.NewClient()
			if err != nil {
				t.Fatalf("%q: %v", tt.replica, err)
			}
			sc := c.(*s3.ReplicaClient)
			if sc.Bucket != tt.bucket || sc.Path != tt.path || sc.Region != tt.region || sc.Endpoint != tt.endpoint || sc.ForcePathStyle != tt.pathStyle {
				t.Errorf("%q: bucket=%q path=%q region=%q endpoint=%q pathStyle=%v", tt.replica, sc.Bucket, sc.Path, sc.Region, sc.Endpoint, sc.ForcePathStyle)
			}
		}
		c, err := mustParse(t, db("      type: s3\n      bucket: b\n      access-key-id: AKID\n      secret-access-key: SECRET\n")).DB().Replica.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		if sc := c.(*s3.ReplicaClient); sc.AccessKeyID != "AKID" || sc.SecretAccessKey != "SECRET" {
			t.Errorf("credentials not passed: %+v", sc)
		}
	})

	t.Run("sftp", func(t *testing.T) {
		tests := []struct {
			replica                string
			host, user, pass, path string
		}{
			{"      url: sftp://pi@nas:22/backups\n      key-path: /k\n      host-key: " + ecdsaKey + "\n", "nas:22", "pi", "", "/backups"},
			{"      url: sftp://pi:pw@nas/backups\n      host-key: " + ecdsaKey + "\n", "nas", "pi", "pw", "/backups"},
			{"      url: sftp://pi:pw@nas/backups\n      user: admin\n      password: other\n      host-key: " + ecdsaKey + "\n", "nas", "admin", "other", "/backups"},
			{"      type: sftp\n      host: '[fd00::5]:2222'\n      user: pi\n      key-path: /k\n      path: backups\n      host-key: " + ecdsaKey + "\n", "[fd00::5]:2222", "pi", "", "backups"},
		}
		for _, tt := range tests {
			c, err := mustParse(t, db(tt.replica)).DB().Replica.NewClient()
			if err != nil {
				t.Fatalf("%q: %v", tt.replica, err)
			}
			sc := c.(*sftp.ReplicaClient)
			if sc.Host != tt.host || sc.User != tt.user || sc.Password != tt.pass || sc.Path != tt.path || sc.HostKey != ecdsaKey {
				t.Errorf("%q: %+v", tt.replica, sc)
			}
		}
	})

	t.Run("hand-built config is validated too", func(t *testing.T) {
		if _, err := (&ReplicaConfig{Type: "sftp", Host: "nas", User: "pi", Password: "pw"}).NewClient(); err == nil || !strings.Contains(err.Error(), "host-key") {
			t.Errorf("sftp without host key: %v", err)
		}
		if _, err := (&ReplicaConfig{Type: "gs", Bucket: "b"}).NewClient(); err == nil {
			t.Error("gs accepted")
		}
		c, err := (&ReplicaConfig{Type: "s3", Bucket: "b", Endpoint: "http://minio:9000"}).NewClient()
		if err != nil {
			t.Fatal(err)
		}
		if !c.(*s3.ReplicaClient).ForcePathStyle {
			t.Error("an endpoint should default to path style, as in the CLI")
		}
	})
}

func TestLocation(t *testing.T) {
	tests := []struct {
		replica string
		want    string
		secrets []string
	}{
		{"      path: /mnt/usb/replica\n", "file /mnt/usb/replica", nil},
		{"      type: s3\n      bucket: family\n      path: booking\n      endpoint: https://minio.local:9000\n      access-key-id: AKIDSECRETISH\n      secret-access-key: SuperSecretValue\n",
			"s3 family/booking at https://minio.local:9000", []string{"AKIDSECRETISH", "SuperSecretValue"}},
		{"      url: s3://family.s3.eu-central-1.amazonaws.com/booking\n", "s3 family/booking (region eu-central-1)", nil},
		{"      url: sftp://pi:HunterTwo@nas:22/backups\n      host-key: " + ecdsaKey + "\n", "sftp pi@nas:22/backups", []string{"HunterTwo"}},
		{"      type: sftp\n      host: nas\n      user: pi\n      password: HunterTwo\n      path: backups\n      host-key: " + ecdsaKey + "\n", "sftp pi@nas:22 ~/backups", []string{"HunterTwo"}},
	}
	for _, tt := range tests {
		got := mustParse(t, db(tt.replica)).DB().Replica.Location()
		if got != tt.want {
			t.Errorf("Location() = %q, want %q", got, tt.want)
		}
		for _, s := range tt.secrets {
			if strings.Contains(got, s) {
				t.Errorf("Location() %q leaks %q", got, s)
			}
		}
	}
	hand := &ReplicaConfig{Type: "s3", Bucket: "b", Endpoint: "https://user:pw@host/x?token=abc"}
	if loc := hand.Location(); strings.Contains(loc, "pw") || strings.Contains(loc, "abc") {
		t.Errorf("Location() = %q leaks endpoint credentials", loc)
	}
}

func TestUnknownKeys(t *testing.T) {
	const ok = "dbs:\n  - path: /srv/booking.db\n    replica:\n      path: /backup\n"
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"top level typo", ok + "snapshots:\n  interval: 1h\n",
			[]string{`litestream.yml:5: unknown key "snapshots" at the top level (did you mean "snapshot"?)`}},
		{"snapshot typo", ok + "snapshot:\n  interval: 24h\n  retension: 720h\n",
			[]string{`litestream.yml:7: unknown key "retension" in snapshot (did you mean "retention"?)`}},
		{"levels typo", ok + "levels:\n  - interval: 30s\n  - intervall: 5m\n",
			[]string{`litestream.yml:7: unknown key "intervall" in levels[1]`}},
		{"validation typo", ok + "validation:\n  every: 1h\n",
			[]string{`litestream.yml:6: unknown key "every" in validation (allowed: interval)`}},
		{"db typo", "dbs:\n  - pth: /srv/booking.db\n    replica:\n      path: /backup\n",
			[]string{`litestream.yml:2: unknown key "pth" in dbs[0] (did you mean "path"?)`}},
		{"replica typo", db("      type: s3\n      buckt: b\n"),
			[]string{`litestream.yml:5: unknown key "buckt" in dbs[0].replica (did you mean "bucket"?)`}},
		{"replica underscore", db("      sync_interval: 1s\n      path: /x\n"),
			[]string{`litestream.yml:4: unknown key "sync_interval" in dbs[0].replica (did you mean "sync-interval"?)`}},
		{"upstream top-level key", ok + "addr: :9090\n",
			[]string{`litestream.yml:5: key "addr" at the top level is a Litestream setting this server does not support`}},
		{"upstream global replica setting", ok + "sync-interval: 1s\n",
			[]string{`litestream.yml:5:`, "set it on the replica instead"}},
		{"upstream db key", "dbs:\n  - path: /srv/booking.db\n    monitor-interval: 1s\n    replica:\n      path: /backup\n",
			[]string{`litestream.yml:3: key "monitor-interval" in dbs[0] is a Litestream setting`}},
		{"upstream per-db snapshot", "dbs:\n  - path: /srv/booking.db\n    snapshot:\n      retention: 720h\n    replica:\n      path: /backup\n",
			[]string{`litestream.yml:3:`, "set snapshot: at the top level"}},
		{"upstream replica key", db("      type: s3\n      bucket: b\n      skip-verify: true\n"),
			[]string{`litestream.yml:6: key "skip-verify" in dbs[0].replica is a Litestream setting`}},
		{"encryption", db("      path: /x\n      age:\n        recipients: [x]\n"),
			[]string{`litestream.yml:5:`, "not encrypted"}},
		{"key of another type", db("      type: s3\n      bucket: b\n      host: nas\n"),
			[]string{`litestream.yml:6: host does not apply to s3 replicas (it is an sftp setting)`}},
		{"s3 key on file replica", db("      path: /x\n      region: eu\n"),
			[]string{`litestream.yml:5: region does not apply to file replicas`}},
		{"duplicate key", db("      path: /x\n      path: /y\n"),
			[]string{`litestream.yml:5: key "path" appears twice`}},
		{"merge key", "base: &b\n  path: /x\n" + db("      <<: *b\n"),
			[]string{`unknown key "base"`, "merge keys"}},
		{"several problems at once", ok + "snapshot:\n  retension: 1h\nlevles: []\n",
			[]string{"litestream.yml:6:", "litestream.yml:7:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantError(t, tt.yml, nil, tt.want...) })
	}
}

func TestBadValues(t *testing.T) {
	const ok = "dbs:\n  - path: /srv/booking.db\n    replica:\n      path: /backup\n"
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"bare number", ok + "snapshot:\n  interval: 24\n", []string{`litestream.yml:6: interval: "24" needs a unit`}},
		{"not a duration", ok + "snapshot:\n  retention: 30d\n", []string{`litestream.yml:6: retention: "30d" is not a duration`, "720h"}},
		{"zero", ok + "validation:\n  interval: 0s\n", []string{`litestream.yml:6: interval must be greater than 0`}},
		{"negative", db("      path: /x\n      sync-interval: -1s\n"), []string{`litestream.yml:5: sync-interval must be greater than 0`}},
		{"empty duration", ok + "snapshot:\n  interval:\n", []string{`litestream.yml:6: interval is empty`}},
		{"list instead of value", ok + "snapshot:\n  interval: [1h]\n", []string{`litestream.yml:6: interval must be a single value, found a list`}},
		{"level without interval", ok + "levels:\n  - {}\n", []string{`litestream.yml:6: levels[0] needs an interval`}},
		{"empty levels", ok + "levels: []\n", []string{`litestream.yml:5: levels is empty`}},
		{"null levels", ok + "levels:\n", []string{`litestream.yml:5: levels is empty`}},
		{"too many levels", ok + "levels:\n" + strings.Repeat("  - interval: 1m\n", 9), []string{`litestream.yml:14: at most 8 levels`}},
		{"snapshot not a mapping", ok + "snapshot: daily\n", []string{`litestream.yml:5: expected key: value lines in snapshot, found a single value`}},
		{"quoted bool", db("      type: s3\n      bucket: b\n      force-path-style: \"true\"\n"), []string{`litestream.yml:6: force-path-style must be true or false (unquoted)`}},
		{"bad bool", db("      type: s3\n      bucket: b\n      force-path-style: maybe\n"), []string{`force-path-style must be true or false`}},
		{"custom tag", db("      path: !secret /x\n"), []string{`litestream.yml:4: path: YAML tag !secret is not supported`}},
		{"yaml syntax", ok + "snapshot:\n  interval: 1h\n retention: 2h\n", []string{`litestream.yml:6: invalid YAML`}},
		{"tabs", "dbs:\n\t- path: x\n", []string{`litestream.yml:2: invalid YAML`}},
		{"second document", ok + "---\ndbs: []\n", []string{`litestream.yml:5: a second YAML document`}},
		{"top level list", "- path: x\n", []string{`litestream.yml:1: expected key: value lines at the top level, found a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantError(t, tt.yml, nil, tt.want...) })
	}
}

func TestDatabases(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"empty file", "", []string{"litestream.yml: no databases configured"}},
		{"only comments", "# nothing\n", []string{"no databases configured"}},
		{"no dbs key", "snapshot:\n  interval: 1h\n", []string{"litestream.yml:1: no databases configured"}},
		{"empty dbs", "dbs: []\n", []string{"litestream.yml:1: dbs lists no database"}},
		{"two dbs", "dbs:\n  - path: /a.db\n    replica:\n      path: /ra\n  - path: /b.db\n    replica:\n      path: /rb\n",
			[]string{"litestream.yml:5: 2 databases are configured, but this server serves exactly one"}},
		{"no path", "dbs:\n  - replica:\n      path: /r\n", []string{"litestream.yml:2: dbs[0] has no path"}},
		{"empty path", "dbs:\n  - path: ''\n    replica:\n      path: /r\n", []string{"litestream.yml:2: path is empty"}},
		{"url as db path", "dbs:\n  - path: s3://b/x.db\n    replica:\n      path: /r\n", []string{"litestream.yml:2: dbs[0].path must be a file path"}},
		{"no replica", "dbs:\n  - path: /a.db\n", []string{"litestream.yml:2: dbs[0] has no replica"}},
		{"null replica", "dbs:\n  - path: /a.db\n    replica:\n", []string{"litestream.yml:3: dbs[0].replica is empty"}},
		{"two replicas", "dbs:\n  - path: /a.db\n    replicas:\n      - path: /r1\n      - path: /r2\n",
			[]string{"litestream.yml:5: dbs[0].replicas lists 2 replicas", "exactly one"}},
		{"replica and replicas", "dbs:\n  - path: /a.db\n    replica:\n      path: /r\n    replicas:\n      - path: /r1\n",
			[]string{"litestream.yml:5: dbs[0] has both replica: and replicas:"}},
		{"db entry not a mapping", "dbs:\n  - /a.db\n", []string{"litestream.yml:2: dbs[0] must be path: and replica: lines"}},
		{"prefix only", "dbs:\n  - path: sqlite://\n    replica:\n      path: /r\n", []string{`litestream.yml:2: dbs[0].path "sqlite://" names no file`}},
		{"empty replicas", "dbs:\n  - path: /a.db\n    replicas: []\n", []string{"litestream.yml:3: dbs[0].replicas is empty"}},
		{"replicas not a list", "dbs:\n  - path: /a.db\n    replicas:\n      path: /r\n", []string{"litestream.yml:4: dbs[0].replicas must be a list"}},
		{"dbs not a list", "dbs:\n  path: /a.db\n", []string{"litestream.yml:2: dbs must be a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantError(t, tt.yml, nil, tt.want...) })
	}

	// The deprecated one-element list is what old files use.
	cfg := mustParse(t, "dbs:\n  - path: /a.db\n    replicas:\n      - url: s3://b/p\n")
	if r := cfg.DB().Replica; r == nil || r.Type != "s3" || r.URL != "s3://b/p" {
		t.Errorf("replicas[0] = %+v", r)
	}
}

func TestReplicaErrors(t *testing.T) {
	tests := []struct {
		name, replica string
		want          []string
	}{
		{"unknown type", "      type: ftp\n", []string{`litestream.yml:4: dbs[0].replica: unknown replica type "ftp"`}},
		{"type case", "      type: S3\n", []string{`did you mean "s3"?`}},
		{"upstream-only type", "      type: gs\n      bucket: b\n", []string{`replica type "gs" is not supported by this server`}},
		{"upstream-only url", "      url: abs://account@container/path\n", []string{`replica type "abs" is not supported`}},
		{"type contradicts url", "      type: s3\n      url: file:///x\n", []string{`litestream.yml:4:`, `type "s3" contradicts the url, which is a file URL`}},
		{"url without scheme", "      url: /mnt/backup\n", []string{`litestream.yml:4:`, "url has no scheme"}},
		{"path is a url", "      path: s3://b/p\n", []string{"path cannot be a URL"}},
		{"file url and path", "      url: file:///x\n      path: /y\n", []string{"litestream.yml:5:", "cannot specify url & path for file replica"}},
		{"file url with host", "      url: file://data/replica\n", []string{"litestream.yml:4:", "three slashes"}},
		{"file url relative", "      url: file:data/replica\n", []string{"three slashes"}},
		{"file url with query", "      url: file:///x?y=1\n", []string{"?query"}},
		{"no file path", "      type: file\n", []string{"file replica needs path:"}},
		{"s3 without bucket", "      type: s3\n      path: p\n", []string{"s3 replica needs bucket:"}},
		{"s3 url and bucket", "      url: s3://b/p\n      bucket: c\n", []string{"litestream.yml:5:", "cannot specify url & bucket"}},
		{"s3 url and path", "      url: s3://b/p\n      path: q\n", []string{"cannot specify url & path for s3 replica"}},
		{"s3 unsupported query", "      url: s3://b/p?skipVerify=true\n", []string{`s3 url parameter "skipVerify" is not supported`}},
		{"s3 credentials in url", "      url: s3://AKID:SECRET@b/p\n", []string{"cannot carry credentials"}},
		{"s3 half credentials", "      type: s3\n      bucket: b\n      access-key-id: AKID\n", []string{"litestream.yml:6:", "must be set together"}},
		{"s3 endpoint with credentials", "      type: s3\n      bucket: b\n      endpoint: https://u:p@minio:9000\n", []string{"litestream.yml:6:", "must not contain a user or password"}},
		{"s3 endpoint scheme", "      type: s3\n      bucket: b\n      endpoint: ftp://minio\n", []string{"http:// or https://"}},
		{"sftp without host key", "      url: sftp://pi@nas.local:2222/backups\n      key-path: /k\n",
			[]string{"litestream.yml:4:", "sftp replica has no host-key", "pose as nas.local", `ssh-keyscan -p 2222 -t ecdsa nas.local`}},
		{"sftp without host key, keys", "      type: sftp\n      host: nas\n      user: pi\n      password: pw\n",
			[]string{"litestream.yml:4:", "no host-key", `ssh-keyscan -t ecdsa nas`}},
		{"sftp bad host key", "      type: sftp\n      host: nas\n      user: pi\n      password: pw\n      host-key: ssh-ed25519 AAAA\n",
			[]string{"litestream.yml:8:", "host-key is not an SSH public key"}},
		{"sftp several host keys", "      type: sftp\n      host: nas\n      user: pi\n      password: pw\n      host-key: |\n        " + ecdsaKey + "\n        " + ed25519Key + "\n",
			[]string{"litestream.yml:8:", "more than one key"}},
		{"sftp without user", "      type: sftp\n      host: nas\n      host-key: " + ecdsaKey + "\n", []string{"sftp replica needs user:"}},
		{"sftp without host", "      type: sftp\n      user: pi\n      host-key: " + ecdsaKey + "\n", []string{"sftp replica needs host:"}},
		{"sftp without credentials", "      url: sftp://pi@nas/x\n      host-key: " + ecdsaKey + "\n", []string{"needs key-path:", "or password:"}},
		{"sftp url and host", "      url: sftp://pi@nas/x\n      host: nas\n", []string{"cannot specify url & host"}},
		{"sftp bad port", "      type: sftp\n      host: nas:ssh\n      user: pi\n      password: x\n      host-key: " + ecdsaKey + "\n", []string{"invalid port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantError(t, db(tt.replica), nil, tt.want...) })
	}
}

func TestURLErrorsDoNotLeakPasswords(t *testing.T) {
	// A control character makes url.Parse fail; its error would quote the URL.
	_, err := Parse([]byte(db("      url: \"sftp://pi:HunterTwo@nas/x\\x7f\"\n      host-key: "+ecdsaKey+"\n")), "litestream.yml", nil)
	if err == nil {
		t.Fatal("invalid url accepted")
	}
	if strings.Contains(err.Error(), "HunterTwo") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestErrorType(t *testing.T) {
	_, err := Parse([]byte("dbs: []\nbogus: 1\n"), "x.yml", nil)
	var e *Error
	if !errors.As(err, &e) || e.Name != "x.yml" || e.Line == 0 {
		t.Fatalf("error %v is not an *Error with a line", err)
	}
}

// checkInvariants is what every successfully parsed config must satisfy; the
// fuzz target relies on it.
func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	if len(cfg.DBs) != 1 {
		t.Fatalf("%d dbs", len(cfg.DBs))
	}
	d := cfg.DB()
	if d.Path == "" || litestream.IsURL(d.Path) {
		t.Fatalf("db path %q", d.Path)
	}
	r := d.Replica
	if r == nil {
		t.Fatal("nil replica")
	}
	switch r.Type {
	case "file", "s3", "sftp":
	default:
		t.Fatalf("replica type %q", r.Type)
	}
	if r.SyncInterval < 0 || cfg.Snapshot.Interval < 0 || cfg.Snapshot.Retention < 0 || cfg.Validation.Interval < 0 {
		t.Fatalf("negative duration in %+v / %+v", cfg, r)
	}
	if len(cfg.Levels) > MaxLevels {
		t.Fatalf("%d levels", len(cfg.Levels))
	}
	for _, lvl := range cfg.Levels {
		if lvl.Interval <= 0 {
			t.Fatalf("level interval %v", lvl.Interval)
		}
	}
	if err := cfg.CompactionLevels().Validate(); err != nil {
		t.Fatalf("compaction levels: %v", err)
	}
	client, err := r.NewClient()
	if err != nil {
		t.Fatalf("NewClient on a parsed config: %v (%+v)", err, r)
	}
	if client.Type() != r.Type {
		t.Fatalf("client type %q for replica type %q", client.Type(), r.Type)
	}
	if r.Type == "sftp" && client.(*sftp.ReplicaClient).HostKey == "" {
		t.Fatal("sftp client without host key")
	}
	loc := r.Location()
	if loc == "" || strings.Contains(loc, "invalid configuration") {
		t.Fatalf("Location() = %q", loc)
	}
	// Location must not depend on the secrets at all.
	other := *r
	for _, s := range []*string{&other.Password, &other.SecretAccessKey, &other.AccessKeyID} {
		if *s != "" {
			*s = "REDACTED-CHECK"
		}
	}
	if got := other.Location(); got != loc {
		t.Fatalf("Location() depends on secrets: %q vs %q", loc, got)
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../litestream.yml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(db("      url: s3://b/p?endpoint=minio:9000\n      access-key-id: ${KEY}\n      secret-access-key: $SECRET\n")))
	f.Add([]byte(db("      url: sftp://pi:pw@nas:22/backups\n      host-key: " + ecdsaKey + "\n")))
	env := envFunc(map[string]string{"KEY": "AKID", "SECRET": "s3cr3t", "DIR": "/mnt/usb", "NL": "a\nb: c"})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yml", env)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			// Every problem is reported as an *Error, and the same input
			// gives the same message (no map-order dependence).
			var e *Error
			if !errors.As(err, &e) || e.Name != "fuzz.yml" {
				t.Fatalf("not an *Error: %v", err)
			}
			if _, err2 := Parse(data, "fuzz.yml", env); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("nondeterministic error:\n%v\n%v", err, err2)
			}
			return
		}
		checkInvariants(t, cfg)
		if err := cfg.ResolvePaths("/srv/app"); err != nil {
			t.Fatalf("ResolvePaths: %v", err)
		}
		if !filepath.IsAbs(cfg.DB().Path) {
			t.Fatalf("resolved db path %q", cfg.DB().Path)
		}
		if r := cfg.DB().Replica; r.Type == "file" && r.Path != "" && !filepath.IsAbs(r.Path) {
			t.Fatalf("resolved replica path %q", r.Path)
		}
		checkInvariants(t, cfg)
	})
}

// An unset variable must not become an empty string: "path: ${X}/replica"
// would replicate to /replica on the root file system. Upstream expands
// it silently; we refuse, naming the variable and the line. Variables in
// comments (the shipped file has ${LITESTREAM_ACCESS_KEY_ID} in one) do
// not count.
func TestUnsetVariableRefused(t *testing.T) {
	yml := "# a USB disk at ${MOUNT}, see below\ndbs:\n  - path: /srv/booking.db\n    replica:\n      type: file\n      path: ${BACKUP_DIR}/replica # not $HOME\n"
	wantError(t, yml, nil, "litestream.yml:6:", "${BACKUP_DIR}", "not set")
	for _, bare := range []string{"$BACKUP_DIR/replica", "'${BACKUP_DIR}/replica'"} {
		wantError(t, strings.Replace(yml, "${BACKUP_DIR}/replica", bare, 1), nil, "litestream.yml:6:", "BACKUP_DIR", "not set")
	}
	// Set, it expands as before, and the comments' variables stay unread.
	cfg, err := Parse([]byte(yml), "litestream.yml", envFunc(map[string]string{"BACKUP_DIR": "/mnt/usb"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DB().Replica.Path; got != "/mnt/usb/replica" {
		t.Errorf("path = %q", got)
	}
	// A # inside quotes is not a comment.
	wantError(t, strings.Replace(yml, "${BACKUP_DIR}/replica # not $HOME", `"/srv/#1/${BACKUP_DIR}"`, 1), nil, "litestream.yml:6:", "${BACKUP_DIR}")
	// Load reads the real environment.
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("litestream.yml", []byte(yml), 0o644)
	t.Setenv("BACKUP_DIR", "")
	if _, err := Load("litestream.yml"); err == nil || !strings.Contains(err.Error(), "litestream.yml:6: ${BACKUP_DIR}") {
		t.Errorf("Load with an empty variable: %v", err)
	}
}
