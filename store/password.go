package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id with OWASP's low-memory setting (m=7 MiB, t=5, p=1): bcrypt at a
// comparable strength takes seconds on a Cortex-A53. The PHC string keeps the
// parameters with each hash so they can be raised later without a migration.
const (
	argonMemoryKiB = 7 * 1024
	argonTime      = 5
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
	// MinPasswordLength follows NIST SP 800-63B for user-chosen passwords.
	MinPasswordLength = 8
)

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC string of an argon2id hash of password.
func (s *Store) HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := s.argon2id([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("unrecognised password hash")

// checkPassword reports whether password matches the PHC string phc.
func (s *Store) checkPassword(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := s.argon2id([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// argon2id runs one hash at a time. Each takes its memory parameter (7 MiB)
// as one fresh allocation; a burst of logins would otherwise leave several
// of them in the heap until the collector comes round, and the process's
// resident memory would grow by that much on a 512 MB Pi. Collecting right
// after each hash returns the block (a few milliseconds next to the hash's
// tens). The hash runs aside (aside.go), so that logins do not slow down
// the pages of those already logged in.
func (s *Store) argon2id(password, salt []byte, t, m uint32, p uint8, keyLen uint32) []byte {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	var key []byte
	aside(func() { key = argon2.IDKey(password, salt, t, m, p, keyLen) })
	debug.FreeOSMemory()
	return key
}
