package store

import "sync"

// changeLog remembers which bookings each of the last commits changed, by
// generation, so that what was computed from a few bookings (a month of the
// calendar) can be brought up to date, or kept, after a write instead of
// computed again from scratch. A commit of anything else (a user, an
// accommodation, a setting: what a stay shows may have changed with it) is
// recorded as nil, which voids everything computed before it. (A group
// commit of booking changes names all of its bookings.)
type changeLog struct {
	mu       sync.Mutex
	bookings [64][]int64 // of generation g at g % 64
}

// changed moves the generation after a commit that changed the bookings ids
// and nothing else (none: anything may have changed). The generation and
// the log move together, under the log's lock, so BookingsChanged never
// sees one without the other.
func (s *Store) changed(ids []int64) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	g := s.generation.Add(1)
	s.changes.bookings[g%uint64(len(s.changes.bookings))] = ids
}

// BookingsChanged lists the bookings that the writes after generation since,
// up to until, changed (a booking may be named more than once). It is false
// when one of those writes changed anything but one booking, or when the
// log no longer reaches back that far: then everything computed at since is
// stale.
func (s *Store) BookingsChanged(since, until uint64) ([]int64, bool) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	n := uint64(len(s.changes.bookings))
	if since > until || until > s.generation.Load() || s.generation.Load()-since > n {
		return nil, false
	}
	ids := make([]int64, 0, until-since)
	for g := since + 1; g <= until; g++ {
		changed := s.changes.bookings[g%n]
		if changed == nil {
			return nil, false
		}
		ids = append(ids, changed...)
	}
	return ids, true
}
