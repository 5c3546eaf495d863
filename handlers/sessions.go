package handlers

import (
	"bytes"
	"encoding/gob"
	"maps"
	"slices"
	"sync"
	"time"
)

// sessionCodec is scs's gob encoding with the values in key order, so that
// a session encodes to the same bytes every time (a gob map comes out in
// random order). The session store compares those bytes to skip commits
// that only push the idle expiry a little (store.SessionOptions.Refresh).
//
// It also remembers what recent sessions decoded to: every request of a
// logged-in member decodes the same few bytes, and gob builds its decoder
// anew each time, which cost a twentieth of a booking's CPU. The values are
// an int64 and strings, so the copy of the map each caller gets cannot
// change what is remembered.
type sessionCodec struct {
	mu      sync.Mutex
	decoded map[string]decodedSession
}

type decodedSession struct {
	deadline time.Time
	values   map[string]any
}

// maxDecodedSessions bounds the memory: about one entry per member.
const maxDecodedSessions = 256

func newSessionCodec() *sessionCodec {
	return &sessionCodec{decoded: map[string]decodedSession{}}
}

type sessionRecord struct {
	Deadline time.Time
	Keys     []string
	Values   []any
}

func (*sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	rec := sessionRecord{Deadline: deadline, Keys: make([]string, 0, len(values))}
	for k := range values {
		rec.Keys = append(rec.Keys, k)
	}
	slices.Sort(rec.Keys)
	for _, k := range rec.Keys {
		rec.Values = append(rec.Values, values[k])
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&rec); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (c *sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	c.mu.Lock()
	d, ok := c.decoded[string(b)]
	c.mu.Unlock()
	if ok {
		return d.deadline, maps.Clone(d.values), nil
	}
	var rec sessionRecord
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&rec); err != nil {
		return time.Time{}, nil, err
	}
	values := make(map[string]any, len(rec.Keys))
	for i, k := range rec.Keys {
		if i < len(rec.Values) {
			values[k] = rec.Values[i]
		}
	}
	c.mu.Lock()
	if len(c.decoded) >= maxDecodedSessions {
		clear(c.decoded)
	}
	c.decoded[string(b)] = decodedSession{rec.Deadline, maps.Clone(values)}
	c.mu.Unlock()
	return rec.Deadline, values, nil
}

// userOf is the user id in a session's data, for the store to know whose
// session a row is (store.SessionOptions.UserOf).
func (c *sessionCodec) userOf(b []byte) int64 {
	_, values, err := c.Decode(b)
	if err != nil {
		return 0
	}
	id, _ := values[sessUserID].(int64)
	return id
}

// idleRefresh is how much a session's idle expiry may lag behind: at most
// one write per session per hour for an idle timeout of days.
func idleRefresh(idle time.Duration) time.Duration {
	return min(time.Hour, idle/48)
}
