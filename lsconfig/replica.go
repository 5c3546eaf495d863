package lsconfig

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/sftp"
)

// replicaTypes lists, for every replica key, the replica types it applies to
// (nil: all). The CLI ignores keys of other types; here they are errors,
// because "host:" on an s3 replica means the file does not say what its
// author thinks it says.
var replicaTypes = map[string][]string{
	"type": nil, "url": nil, "path": nil, "sync-interval": nil,
	"bucket": {"s3"}, "region": {"s3"}, "endpoint": {"s3"}, "force-path-style": {"s3"},
	"access-key-id": {"s3"}, "secret-access-key": {"s3"},
	"host": {"sftp"}, "user": {"sftp"}, "password": {"sftp"}, "key-path": {"sftp"}, "host-key": {"sftp"},
}

// upstreamOnlyTypes are replica types the CLI knows but this server does not
// build clients for.
var upstreamOnlyTypes = []string{"gs", "abs", "webdav", "nats", "oss"}

func (p *parser) replica(f field, where string) *ReplicaConfig {
	n := f.value
	if isNull(n) || n.Kind != yaml.MappingNode {
		if isNull(n) {
			p.errorf(f.keyN, "%s is empty: give it type:/url: and its settings", where)
		} else {
			p.errorf(n, "%s must be key: value lines, found %s", where, kindName(n))
		}
		return nil
	}

	var (
		r      ReplicaConfig
		keys   = map[string]field{}
		fields []field
	)
	allowed := make([]string, 0, len(replicaTypes))
	for k := range replicaTypes {
		allowed = append(allowed, k)
	}
	slices.Sort(allowed)
	start := len(p.errs)
	typeOK := true
	for _, g := range p.fields(n, "in "+where) {
		if _, ok := replicaTypes[g.key]; !ok {
			p.unknownKey(g, "in "+where, allowed, upstreamReplicaKeys)
			continue
		}
		keys[g.key] = g
		fields = append(fields, g)
		before := len(p.errs)
		switch g.key {
		case "type":
			r.Type = p.str(g)
		case "url":
			r.URL = p.str(g)
		case "path":
			r.Path = p.str(g)
		case "sync-interval":
			r.SyncInterval = p.positiveDuration(g)
		case "bucket":
			r.Bucket = p.str(g)
		case "region":
			r.Region = p.str(g)
		case "endpoint":
			r.Endpoint = p.str(g)
		case "force-path-style":
			r.ForcePathStyle = p.boolean(g)
			r.forcePathStyleSet = true
		case "access-key-id":
			r.AccessKeyID = p.str(g)
		case "secret-access-key":
			r.SecretAccessKey = p.str(g)
		case "host":
			r.Host = p.str(g)
		case "user":
			r.User = p.str(g)
		case "password":
			r.Password = p.str(g)
		case "key-path":
			r.KeyPath = p.str(g)
		case "host-key":
			r.HostKey = p.str(g)
		}
		if len(p.errs) > before && (g.key == "type" || g.key == "url") {
			typeOK = false
		}
	}
	if !typeOK {
		// Without a type, every type-specific key would be reported as
		// misplaced: one message is enough.
		return nil
	}

	typ, err := r.effectiveType()
	if err != nil {
		var ke *keyError
		key := ""
		if errors.As(err, &ke) {
			key = ke.key
		}
		p.errorf(lineOf(keys, n, key, "type", "url"), "%s: %v", where, err)
		return nil
	}
	r.Type = typ
	for _, g := range fields {
		if types := replicaTypes[g.key]; types != nil && !slices.Contains(types, typ) {
			p.errorf(g.keyN, "%s does not apply to %s replicas (it is an %s setting)", g.key, typ, strings.Join(types, "/"))
		}
	}
	if len(p.errs) > start {
		return nil
	}
	if err := r.check(); err != nil {
		var ke *keyError
		key := ""
		if errors.As(err, &ke) {
			key = ke.key
		}
		p.errorf(lineOf(keys, n, key, "url"), "%s: %v", where, err)
		return nil
	}
	return &r
}

// lineOf picks the node to report a replica problem at: the first of the
// named keys present, else the replica itself.
func lineOf(keys map[string]field, n *yaml.Node, names ...string) *yaml.Node {
	for _, name := range names {
		if g, ok := keys[name]; ok {
			return g.keyN
		}
	}
	return n
}

// keyError names the key a replica problem is about, for the line number.
type keyError struct {
	key string
	msg string
}

func (e *keyError) Error() string { return e.msg }

func keyErrorf(key, format string, args ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, args...)}
}

// effectiveType mirrors the CLI's ReplicaType: a URL scheme wins over type,
// and a replica with neither is a file replica. A type that contradicts the
// URL is refused instead of being overridden silently.
func (r *ReplicaConfig) effectiveType() (string, error) {
	typ := r.Type
	if r.URL != "" {
		// The CLI takes the type from URLs of the form scheme://; others,
		// such as file:/dir, are parsed by the client of the type given.
		var scheme string
		if litestream.IsURL(r.URL) {
			scheme = strings.ToLower(r.URL[:strings.Index(r.URL, ":")])
		} else if u, err := url.Parse(r.URL); err == nil {
			scheme = u.Scheme
		}
		if scheme == "" {
			return "", keyErrorf("url", "url has no scheme: write file:///absolute/dir, s3://bucket/path or sftp://user@host/path")
		}
		if scheme == "webdavs" {
			scheme = "webdav"
		}
		if typ != "" && typ != scheme {
			return "", keyErrorf("type", "type %q contradicts the url, which is a %s URL", typ, scheme)
		}
		typ = scheme
	}
	if typ == "" {
		typ = "file"
	}
	supported := []string{"file", "s3", "sftp"}
	switch {
	case slices.Contains(supported, typ):
		return typ, nil
	case slices.Contains(upstreamOnlyTypes, typ):
		return "", keyErrorf("type", "replica type %q is not supported by this server (supported: file, s3, sftp)", typ)
	case slices.Contains(supported, strings.ToLower(typ)):
		return "", keyErrorf("type", "unknown replica type %q (did you mean %q?)", typ, strings.ToLower(typ))
	}
	return "", keyErrorf("type", "unknown replica type %q (supported: file, s3, sftp)", typ)
}

// check validates what NewClient needs, without touching the file system or
// the network.
func (r *ReplicaConfig) check() error {
	if r.SyncInterval < 0 {
		return keyErrorf("sync-interval", "sync-interval must be greater than 0")
	}
	if litestream.IsURL(r.Path) {
		return keyErrorf("path", "path cannot be a URL, use url: instead")
	}
	switch r.Type {
	case "file":
		_, err := r.filePath()
		return err
	case "s3":
		if (r.AccessKeyID == "") != (r.SecretAccessKey == "") {
			// Litestream uses static keys only when both are set and falls
			// back to the AWS credential chain otherwise; half a pair is a
			// mistake that would surface only as an access error later.
			return keyErrorf("access-key-id", "access-key-id and secret-access-key must be set together (or both left out to use the AWS_* environment variables)")
		}
		if r.Endpoint != "" {
			if err := checkEndpoint(r.Endpoint); err != nil {
				return keyErrorf("endpoint", "endpoint: %v", err)
			}
		}
		_, err := r.s3Settings()
		return err
	case "sftp":
		c, err := r.newSFTPClient()
		if err != nil {
			return err
		}
		if c.Password == "" && r.KeyPath == "" {
			return keyErrorf("key-path", "sftp replica needs key-path: (a private key file) or password: to log in to %s", c.Host)
		}
		return nil
	}
	return keyErrorf("type", "unknown replica type %q", r.Type)
}

// NewClient builds the Litestream replica client for r the way the CLI does,
// without connecting to anything. A relative or "~" file path is resolved
// against the working directory here if ResolvePaths (Load) has not done it.
//
// For a file replica the caller must also set the client's Replica field
// after creating the replica, as the CLI does, because the file client reads
// the database through it:
//
//	r := litestream.NewReplicaWithClient(db, client)
//	if fc, ok := client.(*file.ReplicaClient); ok {
//		fc.Replica = r
//	}
func (r *ReplicaConfig) NewClient() (litestream.ReplicaClient, error) {
	typ, err := r.effectiveType()
	if err != nil {
		return nil, err
	}
	rc := *r
	rc.Type = typ
	if err := rc.check(); err != nil {
		return nil, err
	}
	switch typ {
	case "file":
		p, _ := rc.filePath()
		if p, err = expandPath(p, ""); err != nil {
			return nil, err
		}
		return file.NewReplicaClient(p), nil
	case "s3":
		o, err := rc.s3Settings()
		if err != nil {
			return nil, err
		}
		return newS3Client(o)
	default:
		return rc.newSFTPClient()
	}
}

// filePath returns the directory of a file replica as written: from path, or
// from a file:// URL parsed exactly as the CLI parses it.
func (r *ReplicaConfig) filePath() (string, error) {
	if r.URL != "" && r.Path != "" {
		return "", keyErrorf("path", "cannot specify url & path for file replica")
	}
	if r.URL == "" {
		if r.Path == "" {
			return "", keyErrorf("path", "file replica needs path: (the directory to copy the database to) or url: file:///absolute/dir")
		}
		return r.Path, nil
	}
	u, err := parseURL(r.URL)
	if err != nil {
		return "", err
	}
	// The CLI would turn file://data/replica into /data/replica and
	// file:data/replica into a relative path; both are far more likely to
	// be a mistake than what the author meant.
	if u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", keyErrorf("url", "a file url must be absolute with three slashes, like file:///home/pi/replica; for a relative directory use path:")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", keyErrorf("url", "a file url cannot have a user, ?query or #fragment")
	}
	_, _, p, err := litestream.ParseReplicaURL(r.URL)
	if err != nil {
		return "", keyErrorf("url", "%v", err)
	}
	return p, nil
}

// parseURL is url.Parse without the raw URL in the error: it may hold an
// sftp password.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, keyErrorf("url", "invalid url: %v", err)
	}
	return u, nil
}

// s3QueryKeys are the URL query parameters that correspond to keys this
// package supports. The CLI also reads others (skipVerify, storageClass...)
// and ignores unknown ones; both are refused here.
var s3QueryKeys = []string{"endpoint", "region", "forcePathStyle", "force-path-style"}

func checkS3URL(raw string) (host, upath string, query url.Values, err error) {
	isARN := strings.HasPrefix(strings.ToLower(raw), "s3://arn:")
	if !isARN {
		u, err := parseURL(raw)
		if err != nil {
			return "", "", nil, err
		}
		if u.User != nil {
			return "", "", nil, keyErrorf("url", "an s3 url cannot carry credentials: use access-key-id: and secret-access-key:")
		}
		if u.Fragment != "" || u.Opaque != "" {
			return "", "", nil, keyErrorf("url", "an s3 url looks like s3://bucket/path")
		}
	}
	_, host, upath, query, _, err = litestream.ParseReplicaURLWithQuery(raw)
	if err != nil {
		return "", "", nil, keyErrorf("url", "invalid s3 url: %v", err)
	}
	// Sorted so that the same file always gives the same message.
	for _, k := range slices.Sorted(maps.Keys(query)) {
		vs := query[k]
		if !slices.Contains(s3QueryKeys, k) {
			return "", "", nil, keyErrorf("url", "s3 url parameter %q is not supported (supported: %s)", k, strings.Join(s3QueryKeys, ", "))
		}
		if len(vs) != 1 || vs[0] == "" {
			return "", "", nil, keyErrorf("url", "s3 url parameter %q needs exactly one value", k)
		}
		if k == "forcePathStyle" || k == "force-path-style" {
			switch strings.ToLower(vs[0]) {
			case "true", "1", "t", "yes", "false", "0", "f", "no":
			default:
				return "", "", nil, keyErrorf("url", "s3 url parameter %s must be true or false", k)
			}
		}
		if k == "endpoint" {
			if err := checkEndpoint(vs[0]); err != nil {
				return "", "", nil, keyErrorf("url", "s3 url endpoint: %v", err)
			}
		}
	}
	return host, upath, query, nil
}

// checkEndpoint accepts what the S3 client accepts: host[:port], optionally
// with http:// or https://. Credentials in it are refused because Location
// would otherwise have to print or mangle them.
func checkEndpoint(endpoint string) error {
	e := endpoint
	lower := strings.ToLower(e)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		if litestream.IsURL(e) {
			return errors.New("must be an http:// or https:// address")
		}
		e = "//" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	if u.User != nil {
		return errors.New("must not contain a user or password")
	}
	if u.Hostname() == "" {
		return errors.New("needs a host name")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not contain ?query or #fragment")
	}
	return nil
}

// s3Options is what an s3 replica client is built from (s3client.go). It is
// worked out in every build, so that a file is checked the same way with or
// without the S3 client compiled in (see the s3 build tag).
type s3Options struct {
	AccessKeyID, SecretAccessKey   string
	Bucket, Path, Region, Endpoint string
	ForcePathStyle                 bool
	RequireContentMD5              bool
	Concurrency                    int   // 0: the client's default
	PartSize                       int64 // 0: the client's default
}

// Litestream's s3 defaults for some providers (v0.5.18, s3/replica_client.go).
const (
	s3DefaultRegion            = "us-east-1"
	s3DefaultR2Concurrency     = 2
	s3DefaultTigrisConcurrency = 2
	s3DefaultTigrisPartSize    = 16 * 1024 * 1024
)

// s3Settings follows the CLI's NewS3ReplicaClientFromConfig (v0.5.18) for
// the keys this package supports, including its URL forms and its defaults
// for S3-compatible providers, so that a file behaves the same in the server
// and in "litestream restore".
func (r *ReplicaConfig) s3Settings() (s3Options, error) {
	if r.URL != "" && r.Path != "" {
		return s3Options{}, keyErrorf("path", "cannot specify url & path for s3 replica")
	} else if r.URL != "" && r.Bucket != "" {
		return s3Options{}, keyErrorf("bucket", "cannot specify url & bucket for s3 replica")
	}

	bucket, configPath := r.Bucket, r.Path
	region, endpoint := r.Region, r.Endpoint
	requireContentMD5, requireContentMD5Set := true, false

	// Path style is the default with an explicit endpoint: only AWS itself
	// uses virtual-host style, and AWS needs no endpoint.
	forcePathStyle := endpoint != ""
	forcePathStyleSet := r.forcePathStyleSet || r.ForcePathStyle
	if forcePathStyleSet {
		forcePathStyle = r.ForcePathStyle
	}
	endpointWasSet := endpoint != ""

	if r.URL != "" {
		host, upath, query, err := checkS3URL(r.URL)
		if err != nil {
			return s3Options{}, err
		}
		var (
			ubucket, uregion, uendpoint string
			uforcePathStyle             bool
		)
		if strings.HasPrefix(host, "arn:") {
			ubucket = host
			uregion = litestream.RegionFromS3ARN(host)
		} else {
			ubucket, uregion, uendpoint, uforcePathStyle = parseS3Host(host)
			if litestream.IsNeonEndpoint(uendpoint) && (endpoint != "" || query.Get("endpoint") != "") {
				ubucket, uregion, uendpoint, uforcePathStyle = host, "", "", false
			}
		}
		if qEndpoint := query.Get("endpoint"); qEndpoint != "" {
			qEndpoint, _ = litestream.EnsureEndpointScheme(qEndpoint)
			uendpoint = qEndpoint
			if query.Get("forcePathStyle") != "false" {
				uforcePathStyle = true
			}
			endpointWasSet = true
		}
		if qRegion := query.Get("region"); qRegion != "" {
			uregion = qRegion
		}
		if v, ok := litestream.BoolQueryValue(query, "forcePathStyle", "force-path-style"); ok {
			uforcePathStyle = v
			forcePathStyleSet = true
		}

		// The separate keys win over the URL's parts, as in the CLI.
		if configPath == "" {
			configPath = upath
		}
		if bucket == "" {
			bucket = ubucket
		}
		if region == "" {
			region = uregion
		}
		if endpoint == "" {
			endpoint = uendpoint
		}
		if !r.forcePathStyleSet && !r.ForcePathStyle && !forcePathStyle {
			forcePathStyle = uforcePathStyle
		}
	}

	if bucket == "" {
		return s3Options{}, keyErrorf("bucket", "s3 replica needs bucket: (or url: s3://bucket/path)")
	}

	isTigris := litestream.IsTigrisEndpoint(endpoint)
	if !isTigris && !endpointWasSet && litestream.IsTigrisEndpoint(r.Endpoint) {
		isTigris = true
	}
	isBackblaze := litestream.IsBackblazeEndpoint(endpoint)
	isFilebase := litestream.IsFilebaseEndpoint(endpoint)
	isMinIO := litestream.IsMinIOEndpoint(endpoint)
	isCloudflareR2 := litestream.IsCloudflareR2Endpoint(endpoint)
	isSupabase := litestream.IsSupabaseEndpoint(endpoint)
	isNeon := litestream.IsNeonEndpoint(endpoint)

	// The CLI's provider defaults. Signed payloads are already the default
	// and cannot be configured here, so only these have an effect.
	if isTigris && !requireContentMD5Set {
		requireContentMD5 = false
	}
	if !forcePathStyleSet && (isFilebase || isBackblaze || isMinIO || isSupabase || isNeon) {
		forcePathStyle = true
	}

	o := s3Options{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey, Bucket: bucket, Path: configPath,
		Region: region, Endpoint: endpoint, ForcePathStyle: forcePathStyle, RequireContentMD5: requireContentMD5}
	if isCloudflareR2 {
		o.Concurrency = s3DefaultR2Concurrency
	}
	if isTigris {
		o.Concurrency = s3DefaultTigrisConcurrency
		o.PartSize = s3DefaultTigrisPartSize
	}
	return o, nil
}

// parseS3Host is Litestream's s3.ParseHost (v0.5.18), here so that the
// build without the S3 client reads s3:// URLs the same way.
func parseS3Host(host string) (bucket, region, endpoint string, forcePathStyle bool) {
	// MinIO-style hosts (bucket.host:port).
	if strings.Contains(host, ":") && !strings.Contains(host, ".com") {
		parts := strings.SplitN(host, ".", 2)
		if len(parts) == 2 {
			return parts[0], s3DefaultRegion, "http://" + parts[1], true
		}
		return "", "", "http://" + host, true
	}
	if a := awsS3Regex.FindStringSubmatch(host); len(a) > 1 {
		bucket = a[1]
		if len(a) > 2 && a[2] != "" {
			region = a[2]
		}
		return bucket, region, "", false
	} else if a := digitaloceanRegex.FindStringSubmatch(host); len(a) > 1 {
		return a[1], a[2], fmt.Sprintf("https://%s.digitaloceanspaces.com", a[2]), false
	} else if a := backblazeRegex.FindStringSubmatch(host); len(a) > 1 {
		return a[1], a[2], fmt.Sprintf("https://s3.%s.backblazeb2.com", a[2]), true
	} else if a := filebaseRegex.FindStringSubmatch(host); len(a) > 1 {
		return a[1], "", "s3.filebase.com", false
	} else if a := scalewayRegex.FindStringSubmatch(host); len(a) > 1 {
		return a[1], a[2], fmt.Sprintf("s3.%s.scw.cloud", a[2]), false
	} else if a := neonRegex.FindStringSubmatch(host); len(a) > 1 {
		// Neon endpoints are per-branch: path-style URLs.
		return a[1], a[3], "https://" + a[2], true
	}
	// For standard S3, the host is the bucket name.
	return host, "", "", false
}

var (
	awsS3Regex        = regexp.MustCompile(`^(.+)\.s3(?:\.([^.]+))?\.amazonaws\.com$`)
	digitaloceanRegex = regexp.MustCompile(`^(?:(.+)\.)?([^.]+)\.digitaloceanspaces.com$`)
	backblazeRegex    = regexp.MustCompile(`^(?:(.+)\.)?s3.([^.]+)\.backblazeb2.com$`)
	filebaseRegex     = regexp.MustCompile(`^(?:(.+)\.)?s3.filebase.com$`)
	scalewayRegex     = regexp.MustCompile(`^(?:(.+)\.)?s3.([^.]+)\.scw\.cloud$`)
	neonRegex         = regexp.MustCompile(`^(.+)\.(br-[^.]+\.storage\.[^.]+\.([^.]+)\.[^.]+\.neon\.tech)$`)
)

// newSFTPClient follows the CLI's newSFTPReplicaClientFromConfig, and in
// addition insists on a host key.
func (r *ReplicaConfig) newSFTPClient() (*sftp.ReplicaClient, error) {
	if r.URL != "" && r.Path != "" {
		return nil, keyErrorf("path", "cannot specify url & path for sftp replica")
	} else if r.URL != "" && r.Host != "" {
		return nil, keyErrorf("host", "cannot specify url & host for sftp replica")
	}

	host, user, password, p := r.Host, r.User, r.Password, r.Path
	if r.URL != "" {
		u, err := parseURL(r.URL)
		if err != nil {
			return nil, err
		}
		if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
			return nil, keyErrorf("url", "an sftp url looks like sftp://user@host:port/path, without ?query or #fragment")
		}
		// The separate keys win over the URL's parts, as in the CLI.
		host = u.Host
		if user == "" && u.User != nil {
			user = u.User.Username()
		}
		if password == "" && u.User != nil {
			password, _ = u.User.Password()
		}
		p = u.Path
	}

	if host == "" {
		return nil, keyErrorf("host", "sftp replica needs host: (or url: sftp://user@host:port/path)")
	} else if user == "" {
		return nil, keyErrorf("user", "sftp replica needs user: (or a user in the url)")
	}
	if err := checkHostPort(host); err != nil {
		return nil, keyErrorf("host", "sftp host %v", err)
	}
	if err := checkHostKey(r.HostKey, host); err != nil {
		return nil, err
	}

	client := sftp.NewReplicaClient()
	client.Host = host
	client.User = user
	client.Password = password
	client.Path = p
	client.KeyPath = r.KeyPath
	client.HostKey = r.HostKey
	return client, nil
}

// checkHostPort accepts what the sftp client dials: host, host:port or
// [ipv6]:port.
func checkHostPort(host string) error {
	if strings.ContainsAny(host, "/ @") {
		return fmt.Errorf("%q is not a host name", host)
	}
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		if strings.Contains(host, ":") {
			return fmt.Errorf("%q: write host:port, or [address]:port for IPv6", host)
		}
		return nil
	}
	if h == "" {
		return fmt.Errorf("%q has no host name", host)
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return fmt.Errorf("%q has an invalid port", host)
	}
	return nil
}

// checkHostKey refuses an SFTP replica without a host key. Upstream then
// connects with ssh.InsecureIgnoreHostKey: anyone who can answer for the NAS
// on the network (a spoofed address, a hostile Wi-Fi) would receive the whole
// database and could hand back a forged one at restore time.
func checkHostKey(hostKey, host string) error {
	name, port := host, "22"
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	}
	scan := "ssh-keyscan -t ecdsa " + name
	if port != "22" {
		scan = "ssh-keyscan -p " + port + " -t ecdsa " + name
	}
	if hostKey == "" {
		return keyErrorf("host-key", "sftp replica has no host-key: without it Litestream does not verify the server's identity, "+
			"so anyone able to intercept the connection could pose as %s and receive the whole database. "+
			"Get the key with %q on a network you trust (compare its fingerprint with \"ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub\" on the server) "+
			"and paste the printed line as host-key:. Go's SSH client asks for the ECDSA key first, then RSA, then Ed25519: "+
			"use -t rsa or -t ed25519 only if the server has no ECDSA key", name, scan)
	}
	_, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(hostKey))
	if err != nil {
		return keyErrorf("host-key", "host-key is not an SSH public key (expected a line such as %q prints): %v", scan, err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return keyErrorf("host-key", "host-key holds more than one key, but only the first would be trusted: keep the single line %q prints", scan)
	}
	return nil
}

// Location describes where r replicates to, for logs and the admin pages. It
// never contains passwords, secret keys or access key ids.
func (r *ReplicaConfig) Location() string {
	if typ, err := r.effectiveType(); err == nil && typ == "s3" {
		rc := *r
		rc.Type = typ
		o, err := rc.s3Settings()
		if err != nil || rc.check() != nil {
			return "s3 (invalid configuration)"
		}
		s := "s3 " + o.Bucket
		if p := strings.Trim(path.Clean("/"+o.Path), "/"); p != "" {
			s += "/" + p
		}
		if o.Endpoint != "" {
			s += " at " + redactEndpoint(o.Endpoint)
		}
		if o.Region != "" {
			s += " (region " + o.Region + ")"
		}
		return s
	}
	client, err := r.NewClient()
	if err != nil {
		typ, terr := r.effectiveType()
		if terr != nil {
			typ = "replica"
		}
		return typ + " (invalid configuration)"
	}
	switch c := client.(type) {
	case *file.ReplicaClient:
		return "file " + c.Path()
	case *sftp.ReplicaClient:
		host := c.Host
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, "22")
		}
		s := "sftp " + c.User + "@" + host
		switch {
		case strings.HasPrefix(c.Path, "/"):
			s += c.Path
		case c.Path != "":
			// Relative SFTP paths start in the login directory.
			s += " ~/" + c.Path
		}
		return s
	}
	return client.Type()
}

// redactEndpoint keeps scheme, host and path: checkEndpoint already refuses
// credentials, this only guards programmatically built configs.
func redactEndpoint(endpoint string) string {
	e := endpoint
	hasScheme := strings.HasPrefix(strings.ToLower(e), "http://") || strings.HasPrefix(strings.ToLower(e), "https://")
	if !hasScheme {
		e = "//" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return "(endpoint)"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return strings.TrimPrefix(u.String(), "//")
}
