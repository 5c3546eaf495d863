package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/benbjohnson/litestream/file"
)

// ReplicaDir is the folder of a file replica, "" for a replica elsewhere
// (SFTP, S3) or a configuration that does not build a client.
func ReplicaDir(cfg ReplicaConfig) string {
	if cfg.NewClient == nil {
		return ""
	}
	c, err := cfg.NewClient()
	if err != nil {
		return ""
	}
	if fc, ok := c.(*file.ReplicaClient); ok {
		return fc.Path()
	}
	return ""
}

// OnSameDevice reports whether a file replica's folder is on the file system
// that holds the database: such a replica undoes mistakes but dies with the
// SD card. A folder that does not exist yet counts where it would be
// created.
func OnSameDevice(dbPath string, cfg ReplicaConfig) (bool, error) {
	dir := ReplicaDir(cfg)
	if dir == "" {
		return false, nil
	}
	a, err := deviceOf(filepath.Dir(dbPath))
	if err != nil {
		return false, err
	}
	b, err := deviceOf(dir)
	if err != nil {
		return false, err
	}
	return a == b, nil
}

// deviceOf is the device of path, or of its nearest existing parent.
func deviceOf(path string) (uint64, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	for {
		fi, err := os.Stat(p)
		if err == nil {
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return 0, fmt.Errorf("%s: no device number on this system", p)
			}
			return uint64(st.Dev), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || p == filepath.Dir(p) {
			return 0, err
		}
		p = filepath.Dir(p)
	}
}
