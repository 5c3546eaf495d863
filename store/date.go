package store

import (
	"fmt"
	"time"
)

// Date is a calendar date in the house's time zone, counted in days since
// 1970-01-01. Nights are plain integers this way: a stay [arrival, departure)
// has departure-arrival nights and iterating over them needs no time zone
// arithmetic (which would go wrong on daylight-saving days).
type Date int32

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return MakeDate(y, m, d)
}

// MakeDate builds a date; out-of-range days normalise as in time.Date.
func MakeDate(year int, month time.Month, day int) Date {
	u := time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix()
	return Date(u / 86400)
}

// ParseDate reads the YYYY-MM-DD form used in the database, forms and URLs.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// Time is midnight UTC of the date, for formatting and calendar arithmetic.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// FirstOfMonth returns the first day of d's month.
func (d Date) FirstOfMonth() Date {
	t := d.Time()
	return MakeDate(t.Year(), t.Month(), 1)
}

// AddMonths moves to the first day of the month n months away.
func (d Date) AddMonths(n int) Date {
	t := d.Time()
	return MakeDate(t.Year(), t.Month()+time.Month(n), 1)
}

// Weekday of the date.
func (d Date) Weekday() time.Weekday { return d.Time().Weekday() }
