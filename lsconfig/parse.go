package lsconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/benbjohnson/litestream"
)

type parser struct {
	name string
	errs []error
}

// errorf records a problem at the line of n (the whole file when n is nil).
func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{Name: p.name, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	p.errs = append(p.errs, e)
}

// field is one key/value pair of a mapping, aliases already followed.
type field struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

func (p *parser) parse(data []byte) *Config {
	cfg := &Config{}
	root := p.document(data)
	if root == nil {
		if len(p.errs) == 0 {
			p.errorf(nil, "no databases configured: the file needs a dbs: list with one entry")
		}
		return cfg
	}

	var sawDBs bool
	for _, f := range p.fields(root, "at the top level") {
		switch f.key {
		case "dbs":
			sawDBs = true
			p.dbs(f, cfg)
		case "snapshot":
			for _, g := range p.fields(f.value, "in snapshot") {
				switch g.key {
				case "interval":
					cfg.Snapshot.Interval = p.positiveDuration(g)
				case "retention":
					cfg.Snapshot.Retention = p.positiveDuration(g)
				default:
					p.unknownKey(g, "in snapshot", []string{"interval", "retention"}, nil)
				}
			}
		case "levels":
			p.levels(f, cfg)
		case "validation":
			for _, g := range p.fields(f.value, "in validation") {
				switch g.key {
				case "interval":
					cfg.Validation.Interval = p.positiveDuration(g)
				default:
					p.unknownKey(g, "in validation", []string{"interval"}, nil)
				}
			}
		default:
			p.unknownKey(f, "at the top level", []string{"dbs", "snapshot", "levels", "validation"}, upstreamTopKeys)
		}
	}
	if !sawDBs {
		p.errorf(root, "no databases configured: the file needs a dbs: list with one entry")
	}
	return cfg
}

// yamlLine matches the position yaml.v3 puts into its syntax errors, so that
// they read like every other error of this package.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// document returns the root node of the only YAML document in data, or nil
// when there is none.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.yamlError(err)
		}
		return nil
	}
	// The CLI reads only the first document; anything after a "---" would
	// be silently dropped there, so it is refused here.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a second YAML document (after ---) is not allowed: litestream reads only the first")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil
	}
	return root
}

func (p *parser) yamlError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs = append(p.errs, &Error{Name: p.name, Line: line, Msg: "invalid YAML: " + msg[len(m[0]):]})
		return
	}
	p.errs = append(p.errs, &Error{Name: p.name, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

// deref follows aliases (*name), which the CLI's YAML library resolves too.
// yaml.v3 refuses self-referencing anchors, so the loop ends.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

// fields returns the pairs of mapping n. A null value (a key with nothing
// after it) is an empty mapping, as in the CLI.
func (p *parser) fields(n *yaml.Node, where string) []field {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "expected key: value lines %s, found %s", where, kindName(n))
		return nil
	}
	seen := map[string]bool{}
	var out []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			p.errorf(n.Content[i], "keys must be plain words %s", where)
			continue
		}
		if k.ShortTag() == "!!merge" {
			p.errorf(k, "YAML merge keys (<<) are not supported %s: write the keys out", where)
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "key %q appears twice %s", k.Value, where)
			continue
		}
		seen[k.Value] = true
		out = append(out, field{key: k.Value, keyN: k, value: v})
	}
	return out
}

// items returns the entries of list n; null is an empty list. ok is false
// when n is not a list, which has been reported.
func (p *parser) items(f field, where string) (items []*yaml.Node, ok bool) {
	n := f.value
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list (lines starting with \"- \"), found %s", where, kindName(n))
		return nil, false
	}
	items = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
	}
	return items, true
}

// standardTags are the tags the CLI's YAML library resolves plain values to.
// Anything else (!!binary, custom !tags) would change the meaning of a value
// in ways this parser does not mirror.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!timestamp": true,
}

// scalar returns the text of a single value. An empty value is refused rather
// than treated as unset: it is usually a ${VAR} whose variable is not set.
func (p *parser) scalar(f field) (string, bool) {
	n := f.value
	if n == nil || n.Kind != yaml.ScalarNode {
		if n == nil {
			n = f.keyN
		}
		p.errorf(n, "%s must be a single value, found %s", f.key, kindName(n))
		return "", false
	}
	if n.Style&yaml.TaggedStyle != 0 && !standardTags[n.ShortTag()] {
		p.errorf(n, "%s: YAML tag %s is not supported", f.key, n.Tag)
		return "", false
	}
	if isNull(n) || n.Value == "" {
		p.errorf(f.keyN, "%s is empty: give it a value or remove the line (an unset ${VAR} expands to nothing)", f.key)
		return "", false
	}
	return n.Value, true
}

func (p *parser) str(f field) string {
	s, _ := p.scalar(f)
	return s
}

// boolean accepts the spellings of the CLI's YAML 1.1 library (yes/no, on/off
// too), unquoted, as it does: a quoted "true" is an error there.
func (p *parser) boolean(f field) bool {
	s, ok := p.scalar(f)
	if !ok {
		return false
	}
	if f.value.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		switch s {
		case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
			return true
		case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
			return false
		}
	}
	p.errorf(f.value, "%s must be true or false (unquoted), not %q", f.key, s)
	return false
}

// positiveDuration parses Go duration syntax. A bare number is refused even
// though the CLI reads it as nanoseconds: "sync-interval: 1" meaning 1ns is
// never what anyone wants.
func (p *parser) positiveDuration(f field) time.Duration {
	s, ok := p.scalar(f)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			p.errorf(f.value, "%s: %q needs a unit, e.g. \"1s\", \"5m\" or \"24h\"", f.key, s)
		} else {
			p.errorf(f.value, "%s: %q is not a duration; use Go syntax such as \"1s\", \"5m\" or \"720h\"", f.key, s)
		}
		return 0
	}
	if d <= 0 {
		p.errorf(f.value, "%s must be greater than 0, got %s", f.key, s)
		return 0
	}
	return d
}

func (p *parser) levels(f field, cfg *Config) {
	items, ok := p.items(f, "levels")
	if !ok {
		return
	}
	if len(items) == 0 {
		// The CLI would run with L0 only. An empty list is more likely a
		// list whose entries were all commented out.
		p.errorf(f.keyN, "levels is empty: list at least one level, or remove the key for Litestream's defaults (30s, 5m, 1h)")
		return
	}
	if len(items) > MaxLevels {
		p.errorf(items[MaxLevels], "at most %d levels are allowed (level %d is reserved for snapshots)", MaxLevels, litestream.SnapshotLevel)
		return
	}
	for i, it := range items {
		where := fmt.Sprintf("in levels[%d]", i)
		var lvl LevelConfig
		before := len(p.errs)
		for _, g := range p.fields(it, where) {
			switch g.key {
			case "interval":
				lvl.Interval = p.positiveDuration(g)
			default:
				p.unknownKey(g, where, []string{"interval"}, nil)
			}
		}
		// Only when nothing about this entry was reported already.
		if lvl.Interval == 0 && len(p.errs) == before {
			p.errorf(it, "levels[%d] needs an interval", i)
		}
		cfg.Levels = append(cfg.Levels, lvl)
	}
}

func (p *parser) dbs(f field, cfg *Config) {
	items, ok := p.items(f, "dbs")
	if !ok {
		return
	}
	if len(items) == 0 {
		p.errorf(f.keyN, "dbs lists no database: add one entry with path: and replica:")
		return
	}
	for i, it := range items {
		if db, ok := p.db(it, i); ok {
			cfg.DBs = append(cfg.DBs, db)
		}
	}
	if len(items) > 1 {
		p.errorf(items[1], "%d databases are configured, but this server serves exactly one: keep only the booking database's entry", len(items))
	}
}

func (p *parser) db(n *yaml.Node, i int) (DBConfig, bool) {
	where := fmt.Sprintf("in dbs[%d]", i)
	var (
		db                   DBConfig
		pathN, replica, many *field
	)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, "dbs[%d] must be path: and replica: lines, found %s", i, kindName(n))
		return db, false
	}
	fields := p.fields(n, where)
	for j := range fields {
		g := &fields[j]
		switch g.key {
		case "path":
			pathN = g
			if raw := p.str(*g); raw != "" {
				if db.Path = stripSQLitePrefix(raw); db.Path == "" {
					p.errorf(g.value, "dbs[%d].path %q names no file", i, raw)
				}
			}
		case "replica":
			replica = g
		case "replicas":
			many = g
		default:
			p.unknownKey(*g, where, []string{"path", "replica"}, upstreamDBKeys)
		}
	}

	ok := true
	switch {
	case pathN == nil:
		p.errorf(n, "dbs[%d] has no path (the SQLite database file)", i)
		ok = false
	case db.Path == "":
		ok = false
	case litestream.IsURL(db.Path):
		p.errorf(pathN.value, "dbs[%d].path must be a file path, not a URL", i)
		ok = false
	}

	switch {
	case replica != nil && many != nil:
		p.errorf(many.keyN, "dbs[%d] has both replica: and replicas:; use replica: only", i)
		ok = false
	case replica != nil:
		db.Replica = p.replica(*replica, fmt.Sprintf("dbs[%d].replica", i))
	case many != nil:
		// Litestream v0.5 still reads the v0.3 "replicas" list as long as it
		// has a single entry; accepting that keeps old files working.
		items, listOK := p.items(*many, fmt.Sprintf("dbs[%d].replicas", i))
		switch {
		case !listOK:
		case len(items) == 0:
			p.errorf(many.keyN, "dbs[%d].replicas is empty: configure one replica with replica:", i)
		case len(items) > 1:
			p.errorf(items[1], "dbs[%d].replicas lists %d replicas, but Litestream v0.5 replicates to exactly one: use replica:", i, len(items))
		default:
			db.Replica = p.replica(field{key: "replicas[0]", keyN: many.keyN, value: items[0]}, fmt.Sprintf("dbs[%d].replicas[0]", i))
		}
	default:
		p.errorf(n, "dbs[%d] has no replica: without one nothing is backed up (see the examples in the shipped litestream.yml)", i)
		ok = false
	}
	if db.Replica == nil {
		ok = false
	}
	return db, ok
}

// stripSQLitePrefix mirrors the CLI, which accepts database paths written as
// sqlite:// or sqlite3:// connection strings.
func stripSQLitePrefix(s string) string {
	for _, prefix := range []string{"sqlite3://", "sqlite://"} {
		if strings.HasPrefix(s, prefix) {
			return strings.TrimPrefix(s, prefix)
		}
	}
	return s
}

// unknownKey reports a key this parser does not accept, telling a Litestream
// setting this server leaves out apart from a typo.
func (p *parser) unknownKey(f field, where string, allowed []string, upstream map[string]string) {
	if hint, ok := upstream[f.key]; ok {
		msg := fmt.Sprintf("key %q %s is a Litestream setting this server does not support", f.key, where)
		if hint != "" {
			msg += ": " + hint
		}
		p.errorf(f.keyN, "%s", msg)
		return
	}
	msg := fmt.Sprintf("unknown key %q %s", f.key, where)
	if s := suggest(f.key, allowed); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else {
		sorted := append([]string(nil), allowed...)
		sort.Strings(sorted)
		msg += " (allowed: " + strings.Join(sorted, ", ") + ")"
	}
	p.errorf(f.keyN, "%s", msg)
}

// suggest returns the allowed key closest to key when it is close enough to
// be a typo.
func suggest(key string, allowed []string) string {
	best, bestD := "", 3
	lower := strings.ToLower(strings.ReplaceAll(key, "_", "-"))
	for _, a := range allowed {
		if lower == a {
			return a
		}
		if d := editDistance(lower, a); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	// Config keys are short; anything long is not a typo of one.
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

const replicaLevel = "set it on the replica instead"

// upstreamTopKeys are the CLI's top-level keys this server leaves out, with a
// hint where there is a useful one. The replica keys are listed too because
// the CLI accepts them at the top level as defaults for every replica.
var upstreamTopKeys = map[string]string{
	"addr": "the server exposes its own /metrics", "socket": "", "l0-retention": "", "l0-retention-check-interval": "",
	"verify-compaction": "", "retention": "did you mean snapshot: retention:?", "heartbeat-url": "", "heartbeat-interval": "",
	"exec": "", "logging": "the server configures its own logging", "mcp-addr": "", "shutdown-timeout": "",
	"shutdown-sync-timeout": "", "shutdown-sync-interval": "",

	"sync-interval": replicaLevel, "bucket": replicaLevel, "region": replicaLevel, "endpoint": replicaLevel,
	"force-path-style": replicaLevel, "access-key-id": replicaLevel, "secret-access-key": replicaLevel,
	"host": replicaLevel, "user": replicaLevel, "password": replicaLevel, "key-path": replicaLevel, "host-key": replicaLevel,
	"validation-interval": "use validation: interval:", "max-sync-ltx-files": "", "auto-recover": "",
	"sign-payload": "", "sign-accept-encoding": "", "require-content-md5": "", "put-object-content-md5": "",
	"skip-verify": "", "storage-class": "", "part-size": "", "concurrency": "",
	"sse-customer-algorithm": "", "sse-customer-key": "", "sse-customer-key-path": "", "sse-kms-key-id": "",
	"account-name": "", "account-key": "", "sas-token": "", "concurrent-writes": "",
	"webdav-url": "", "webdav-username": "", "webdav-password": "",
	"jwt": "", "seed": "", "creds": "", "nkey": "", "username": "", "token": "", "tls": "", "root-cas": "",
	"client-cert": "", "client-key": "", "max-reconnects": "", "reconnect-wait": "", "timeout": "",
	"age": "replicas are not encrypted in Litestream v0.5",
}

var upstreamDBKeys = map[string]string{
	"dir": "the server replicates one database file", "pattern": "", "recursive": "", "watch": "",
	"snapshot":  "set snapshot: at the top level",
	"meta-path": "", "meta-dir": "", "monitor-interval": "", "checkpoint-interval": "", "busy-timeout": "",
	"min-checkpoint-page-count": "", "truncate-page-n": "", "max-sync-wal-bytes": "", "restore-if-db-not-exists": "",
}

var upstreamReplicaKeys = map[string]string{
	"name":                "", // deprecated upstream
	"validation-interval": "use validation: interval: at the top level", "max-sync-ltx-files": "", "auto-recover": "",
	"sign-payload": "", "sign-accept-encoding": "", "require-content-md5": "", "put-object-content-md5": "",
	"skip-verify": "TLS certificate checks stay on", "storage-class": "", "part-size": "", "concurrency": "",
	"sse-customer-algorithm": "", "sse-customer-key": "", "sse-customer-key-path": "", "sse-kms-key-id": "",
	"account-name": "", "account-key": "", "sas-token": "", "concurrent-writes": "",
	"webdav-url": "", "webdav-username": "", "webdav-password": "",
	"jwt": "", "seed": "", "creds": "", "nkey": "", "username": "did you mean user:?", "token": "", "tls": "", "root-cas": "",
	"client-cert": "", "client-key": "", "max-reconnects": "", "reconnect-wait": "", "timeout": "",
	"age": "replicas are not encrypted in Litestream v0.5",
}
