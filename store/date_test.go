package store

import (
	"testing"
	"time"
)

// TestParseDateAsTimeParse: the hand-written reading accepts and refuses
// exactly what time.Parse does, with the same dates.
func TestParseDateAsTimeParse(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got, err := ParseDate(s)
		want, werr := time.Parse(time.DateOnly, s)
		if (err == nil) != (werr == nil) || (err == nil && got != DateOf(want)) {
			t.Errorf("%q: %v %v, time.Parse %v %v", s, got, err, want, werr)
		}
	}
	for d := MakeDate(1599, time.January, 1); d < MakeDate(2401, time.January, 1); d++ {
		check(d.String())
	}
	for _, s := range []string{"", "2026-02-29", "2028-02-29", "2100-02-29", "2000-02-29", "2026-04-31", "2026-13-01",
		"2026-00-10", "2026-01-00", "2026-1-10", "2026-01-1", "+026-01-10", "2026/01/10", "2026-01-10 ", "20260-1-10",
		"0000-01-01", "0001-01-01", "9999-12-31", "2026-0a-10", "2026-01-3a", "-001-01-01"} {
		check(s)
	}
}
