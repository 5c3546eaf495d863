package store

import "sync"

// changeLog remembers which booking each of the last writes changed, by
// generation, so that what was computed from a few bookings (a month of the
// calendar) can be brought up to date, or kept, after a write instead of
// computed again from scratch. A write of anything else (a user, an
// accommodation, a setting: what a stay shows may have changed with it) is
// recorded as 0, which voids everything computed before it.
type changeLog struct {
	mu      sync.Mutex
	booking [64]int64 // of generation g at g % 64
}

// changed moves the generation after a committed write of booking (0 for
// anything else). The generation and the log move together, under the
// log's lock, so BookingsChanged never sees one without the other.
func (s *Store) changed(booking int64) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	g := s.generation.Add(1)
	s.changes.booking[g%uint64(len(s.changes.booking))] = booking
}

// BookingsChanged lists the bookings that the writes after generation since,
// up to until, changed (a booking may be named more than once). It is false
// when one of those writes changed anything but one booking, or when the
// log no longer reaches back that far: then everything computed at since is
// stale.
func (s *Store) BookingsChanged(since, until uint64) ([]int64, bool) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	n := uint64(len(s.changes.booking))
	if since > until || until > s.generation.Load() || s.generation.Load()-since > n {
		return nil, false
	}
	ids := make([]int64, 0, until-since)
	for g := since + 1; g <= until; g++ {
		id := s.changes.booking[g%n]
		if id == 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
