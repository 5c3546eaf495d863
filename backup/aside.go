package backup

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// KeepSetAside is how many "<db>.before-restore-<time>" folders stay: the
// newest ones. Each holds a whole old database; a start that restores again
// and again (an interrupted restore, a disk that keeps failing) left one
// per start. Three keep the database from before the last restore and the
// two before that, which is what an administrator goes back to.
const KeepSetAside = 3

// SetAsideFolder is one folder a restore moved an old database into.
type SetAsideFolder struct {
	Path string
	Time time.Time // when the restore moved it there
	Size int64     // bytes of all files in it
}

// SetAsideFolders lists the before-restore folders beside the database,
// oldest first.
func SetAsideFolders(dbPath string) ([]SetAsideFolder, error) {
	dir, base := filepath.Split(dbPath)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type named struct {
		f   SetAsideFolder
		seq int
	}
	var found []named
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base+asideInfix)
		if !ok || !e.IsDir() {
			continue
		}
		stamp, n, _ := strings.Cut(rest, "-")
		t, err := time.Parse("20060102T150405Z", stamp)
		if err != nil {
			continue
		}
		seq := 1
		if n != "" {
			if seq, err = strconv.Atoi(n); err != nil {
				continue
			}
		}
		f := SetAsideFolder{Path: filepath.Join(dir, e.Name()), Time: t}
		filepath.WalkDir(f.Path, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					f.Size += info.Size()
				}
			}
			return nil
		})
		found = append(found, named{f, seq})
	}
	// Two restores within a second are "-2", "-3"... after the first.
	sort.Slice(found, func(i, j int) bool {
		if !found[i].f.Time.Equal(found[j].f.Time) {
			return found[i].f.Time.Before(found[j].f.Time)
		}
		return found[i].seq < found[j].seq
	})
	out := make([]SetAsideFolder, len(found))
	for i, n := range found {
		out[i] = n.f
	}
	return out, nil
}

// pruneSetAside removes the oldest before-restore folders beyond the newest
// KeepSetAside and returns those it removed.
func pruneSetAside(dbPath string) []string {
	folders, err := SetAsideFolders(dbPath)
	if err != nil || len(folders) <= KeepSetAside {
		return nil
	}
	var removed []string
	for _, f := range folders[:len(folders)-KeepSetAside] {
		if os.RemoveAll(f.Path) == nil {
			removed = append(removed, f.Path)
		}
	}
	return removed
}
