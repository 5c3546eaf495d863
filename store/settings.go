package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Settings are the house-wide options an administrator can change.
type Settings struct {
	HouseName        string
	TimeZone         string
	MaxNights        int
	SelfRegistration bool
	// HorizonMonths is how far ahead a stay may begin.
	HorizonMonths int
	// MaxPendingBedNights bounds what one member may have waiting for a
	// decision (persons x nights still to come), so that nobody can
	// block the house with requests; 0 means no limit.
	MaxPendingBedNights int
	// MaxWaitingAccounts bounds the self-registered accounts waiting for
	// approval: a stranger cannot fill the members list.
	MaxWaitingAccounts int
	// HouseFeedOccupiedOnly makes the whole-house calendar feed say only
	// "occupied", without names and accommodations (see feeds.go).
	HouseFeedOccupiedOnly bool
	loc                   *time.Location
}

// Location is the house's time zone.
func (s *Settings) Location() *time.Location { return s.loc }

// Input is the settings as a change that changes nothing, for a caller
// to alter what it means to.
func (s *Settings) Input() SettingsInput {
	return SettingsInput{HouseName: s.HouseName, TimeZone: s.TimeZone, MaxNights: s.MaxNights, SelfRegistration: s.SelfRegistration,
		HorizonMonths: s.HorizonMonths, MaxPendingBedNights: s.MaxPendingBedNights, MaxWaitingAccounts: s.MaxWaitingAccounts}
}

// Limits and defaults of the settings. A stay of a year would make the
// per-night check and the calendar meaningless; 18 months ahead covers next
// summer's holidays; 120 bed-nights is a family of four for a month.
const (
	MinMaxNights               = 1
	MaxMaxNights               = 365
	defaultMaxNights           = 30
	MinHorizonMonths           = 1
	MaxHorizonMonths           = 120
	defaultHorizonMonths       = 18
	MaxMaxPendingBedNights     = 10000
	defaultMaxPendingBedNights = 120
	MaxMaxWaitingAccounts      = 1000
	defaultMaxWaitingAccounts  = 10
)

// Settings returns the current settings. They are read on every booking, so
// they are cached in memory and replaced as a whole when changed.
func (s *Store) Settings() *Settings { return s.settings.Load() }

func (s *Store) loadSettings(ctx context.Context, defaultLoc *time.Location) error {
	st := &Settings{HouseName: "Gartenhaus", TimeZone: defaultLoc.String(), MaxNights: defaultMaxNights,
		HorizonMonths: defaultHorizonMonths, MaxPendingBedNights: defaultMaxPendingBedNights,
		MaxWaitingAccounts: defaultMaxWaitingAccounts, loc: defaultLoc}
	rows, err := s.writer.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return fmt.Errorf("load settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("load settings: %w", err)
		}
		switch k {
		case "house_name":
			st.HouseName = v
		case "time_zone":
			loc, err := time.LoadLocation(v)
			if err != nil {
				return fmt.Errorf("load settings: time zone %q: %w", v, err)
			}
			st.TimeZone, st.loc = v, loc
		case "max_nights":
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("load settings: max_nights %q: %w", v, err)
			}
			st.MaxNights = n
		case "self_registration":
			st.SelfRegistration = v == "1"
		case "horizon_months", "max_pending_bed_nights", "max_waiting_accounts":
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("load settings: %s %q: %w", k, v, err)
			}
			switch k {
			case "horizon_months":
				st.HorizonMonths = n
			case "max_pending_bed_nights":
				st.MaxPendingBedNights = n
			default:
				st.MaxWaitingAccounts = n
			}
		case houseFeedOccupiedOnlyKey:
			st.HouseFeedOccupiedOnly = v == "1"
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load settings: %w", err)
	}
	s.settings.Store(st)
	return nil
}

// SettingsInput is a change of the settings (start from Settings.Input).
type SettingsInput struct {
	HouseName           string
	TimeZone            string
	MaxNights           int
	SelfRegistration    bool
	HorizonMonths       int
	MaxPendingBedNights int
	MaxWaitingAccounts  int
}

// UpdateSettings validates and stores new settings. Only administrators may.
func (s *Store) UpdateSettings(ctx context.Context, actor *User, in SettingsInput) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("update settings: %w", ErrForbidden)
	}
	var ps problems
	in.HouseName = strings.TrimSpace(in.HouseName)
	if in.HouseName == "" {
		ps.add("house_name", KeyRequired)
	} else if !plainText(in.HouseName, false) {
		ps.add("house_name", KeyBadCharacters)
	} else if len([]rune(in.HouseName)) > 100 {
		ps.add("house_name", KeyTooLong, 100)
	}
	loc, err := time.LoadLocation(in.TimeZone)
	if in.TimeZone == "" || err != nil {
		ps.add("time_zone", KeyBadTimeZone)
	}
	if in.MaxNights < MinMaxNights || in.MaxNights > MaxMaxNights {
		ps.add("max_nights", KeyMaxNightsRange, MinMaxNights, MaxMaxNights)
	}
	if in.HorizonMonths < MinHorizonMonths || in.HorizonMonths > MaxHorizonMonths {
		ps.add("horizon_months", KeyMaxNightsRange, MinHorizonMonths, MaxHorizonMonths)
	}
	if in.MaxPendingBedNights < 0 || in.MaxPendingBedNights > MaxMaxPendingBedNights {
		ps.add("max_pending_bed_nights", KeyMaxNightsRange, 0, MaxMaxPendingBedNights)
	}
	if in.MaxWaitingAccounts < 1 || in.MaxWaitingAccounts > MaxMaxWaitingAccounts {
		ps.add("max_waiting_accounts", KeyMaxNightsRange, 1, MaxMaxWaitingAccounts)
	}
	if err := ps.err(); err != nil {
		return err
	}
	self := "0"
	if in.SelfRegistration {
		self = "1"
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{
			"house_name": in.HouseName, "time_zone": in.TimeZone,
			"max_nights": strconv.Itoa(in.MaxNights), "self_registration": self,
			"horizon_months": strconv.Itoa(in.HorizonMonths), "max_pending_bed_nights": strconv.Itoa(in.MaxPendingBedNights),
			"max_waiting_accounts": strconv.Itoa(in.MaxWaitingAccounts),
		} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	s.settings.Store(&Settings{HouseName: in.HouseName, TimeZone: in.TimeZone, MaxNights: in.MaxNights,
		SelfRegistration: in.SelfRegistration, HorizonMonths: in.HorizonMonths, MaxPendingBedNights: in.MaxPendingBedNights,
		MaxWaitingAccounts: in.MaxWaitingAccounts, loc: loc,
		HouseFeedOccupiedOnly: s.Settings().HouseFeedOccupiedOnly})
	return nil
}

// LastArrival is the last day a stay may begin on: HorizonMonths from today.
func (s *Store) LastArrival() Date {
	return DateOf(s.Today().Time().AddDate(0, s.Settings().HorizonMonths, 0))
}
