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
// The month view reads two dates per stay after every change, so the usual
// form is read by hand (time.Parse costs ~10 times as much); anything else
// goes to time.Parse, which also words the error.
func ParseDate(s string) (Date, error) {
	if d, ok := parseDateFast(s); ok {
		return d, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// parseDateFast reads a valid YYYY-MM-DD, exactly what time.Parse accepts
// for time.DateOnly; false for anything else.
func parseDateFast(s string) (Date, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) {
		return 0, false
	}
	// Days since 1970-01-01 in the proleptic Gregorian calendar (the
	// days_from_civil algorithm, H. Hinnant).
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // year 0's January and February
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return Date(era*146097 + doe - 719468), true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
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
