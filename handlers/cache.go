package handlers

import (
	"sync"

	"booking/store"
)

// versionedCache keeps values computed from one version of the data, as
// told by the store's change counter (store.Generation): any change makes
// every value stale at once, so nothing is served out of date and nothing is
// invalidated by hand. It holds at most limit values and starts over when
// full, which is cheap for what it holds (pages rendered again on the next
// view).
type versionedCache[K comparable, V any] struct {
	current func() uint64 // the version of the data now
	limit   int

	mu      sync.Mutex
	version uint64 // the version the values were computed from
	values  map[K]V
}

func newVersionedCache[K comparable, V any](current func() uint64, limit int) *versionedCache[K, V] {
	return &versionedCache[K, V]{current: current, limit: limit, values: map[K]V{}}
}

// get returns the value for k if it was computed from the current data. On
// a miss, pass the version it returns to put, with the value computed from
// the data read after get.
func (c *versionedCache[K, V]) get(k K) (v V, version uint64, ok bool) {
	version = c.current()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		clear(c.values) // stale: let the memory go now
		c.version = version
	}
	v, ok = c.values[k]
	return v, version, ok
}

// put keeps v, computed from the data of version, unless the data has
// changed since.
func (c *versionedCache[K, V]) put(version uint64, k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.current() {
		return
	}
	if c.version != version || len(c.values) >= c.limit {
		clear(c.values)
		c.version = version
	}
	c.values[k] = v
}

// unversioned is the version of values that depend on nothing but their key.
func unversioned() uint64 { return 0 }

// monthEntry is a rendered month body with the stays it shows, as of a
// version of the data (or later: a view that read the data while it changed
// stamps what it read with the version before the change, and the next view
// reads that change again, which does no harm).
type monthEntry struct {
	version uint64
	stays   []store.Stay
	body    []byte
	parts   map[int64]*stayParts // by stay; read only once kept
}

// monthCache keeps month bodies across changes of the data: unlike
// versionedCache it lets the caller see a stale entry, to bring it up to
// date (see monthBody). It holds at most limit months and starts over when
// full.
type monthCache struct {
	limit int

	mu     sync.Mutex
	months map[calendarKey]*monthEntry
}

func newMonthCache(limit int) *monthCache {
	return &monthCache{limit: limit, months: map[calendarKey]*monthEntry{}}
}

// get returns the entry of k, whatever its version, or nil. The entry is
// shared: it is never changed, only replaced.
func (c *monthCache) get(k calendarKey) *monthEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.months[k]
}

// put keeps e for k unless a newer version is kept already.
func (c *monthCache) put(k calendarKey, e *monthEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.months[k]; ok && old.version > e.version {
		return
	}
	if _, ok := c.months[k]; !ok && len(c.months) >= c.limit {
		clear(c.months)
	}
	c.months[k] = e
}
