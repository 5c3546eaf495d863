package handlers

import (
	"testing"
	"time"
)

// A remembered decoding gives each caller its own map: what one request
// puts into its session never shows in another's.
func TestSessionCodecRemembers(t *testing.T) {
	c := newSessionCodec()
	deadline := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b, err := c.Encode(deadline, map[string]any{sessUserID: int64(7), sessRole: "member"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d, values, err := c.Decode(b)
		if err != nil || !d.Equal(deadline) || values[sessUserID] != int64(7) || values[sessRole] != "member" || len(values) != 2 {
			t.Fatalf("decode %d: %v %v %v", i, d, values, err)
		}
		values[sessRole] = "admin" // a request changing its own copy
		values["flash"] = "x"
	}
	if got := c.userOf(b); got != 7 {
		t.Errorf("userOf: %d", got)
	}
	if _, _, err := c.Decode([]byte("not gob")); err == nil {
		t.Error("garbage decoded")
	}
	for i := range maxDecodedSessions + 10 {
		b, _ := c.Encode(deadline, map[string]any{sessUserID: int64(i)})
		c.Decode(b)
	}
	if n := len(c.decoded); n > maxDecodedSessions {
		t.Errorf("%d sessions remembered, limit %d", n, maxDecodedSessions)
	}
}
