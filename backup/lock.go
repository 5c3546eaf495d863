package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrDatabaseInUse is what LockDatabase returns (as an *InUseError) while
// another process holds the lock.
var ErrDatabaseInUse = errors.New("database in use")

// InUseError names the process that holds the database lock.
type InUseError struct {
	DBPath  string
	PID     int
	Command string
	Since   time.Time
}

func (e *InUseError) Error() string {
	who := "another booking process"
	if e.Command != "" {
		who = `"booking ` + e.Command + `"`
	}
	if e.PID > 0 {
		who += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	s := fmt.Sprintf("%s is using the database %s", who, e.DBPath)
	if !e.Since.IsZero() {
		s += " since " + e.Since.Format(time.RFC3339)
	}
	return s
}

func (e *InUseError) Is(target error) bool { return target == ErrDatabaseInUse }

// DatabaseLock is held by the server for its whole life and by a restore
// that replaces the database, so the two never meet.
//
// It is an flock(2) on "<db>.lock", not the database file itself: closing any
// descriptor of the database would drop SQLite's own POSIX locks in this
// process. The kernel releases an flock when its process ends, however it
// ends (SIGKILL, power cut), so a stale lock file never blocks anything; and
// unlike probing the listen address it works whatever -addr says and
// whether or not the server has started listening yet.
type DatabaseLock struct {
	dbPath string
	f      *os.File
}

// LockDatabase takes the lock of the database at dbPath for command (e.g.
// "serve"), or returns an *InUseError naming the holder. The lock belongs to
// the real file: a path through a symbolic link meets the same lock.
func LockDatabase(dbPath, command string) (*DatabaseLock, error) {
	dbPath, err := RealPath(dbPath)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(dbPath+".lock", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dbPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, readHolder(f, dbPath)
		}
		return nil, fmt.Errorf("lock %s: %w", dbPath, err)
	}
	// Who holds it, for the message another process shows.
	info := fmt.Sprintf("pid %d\ncommand %s\nsince %s\n", os.Getpid(), command, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
	}
	return &DatabaseLock{dbPath: dbPath, f: f}, nil
}

func readHolder(f *os.File, dbPath string) error {
	e := &InUseError{DBPath: dbPath}
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	for _, line := range strings.Split(string(b[:n]), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			e.PID, _ = strconv.Atoi(v)
		case "command":
			e.Command = v
		case "since":
			e.Since, _ = time.Parse(time.RFC3339, v)
		}
	}
	return e
}

// Release gives the lock up. The file stays: removing it could let two
// processes lock two different files of the same name.
func (l *DatabaseLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// RealPath is the database's path with every symbolic link resolved, also
// when the database does not exist yet (a link may point at the file to
// be). Two configs that reach one file by different names must meet at the
// same lock, and SQLite and Litestream must find the -wal and Litestream's
// folder where the other puts them.
func RealPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	// A chain of links is followed at most this far, as the kernel does.
	for range 40 {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return real, nil
		}
		// The file does not exist (yet): resolve its folder, then the
		// name itself if it is a dangling link.
		dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
		if err != nil {
			// No folder yet either: serve creates it.
			return abs, nil
		}
		abs = filepath.Join(dir, filepath.Base(abs))
		target, err := os.Readlink(abs)
		if err != nil {
			return abs, nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		abs = filepath.Clean(target)
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}
