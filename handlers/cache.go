package handlers

import "sync"

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
