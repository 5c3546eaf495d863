package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"booking/e2e"
)

// A damaged file opens (only the schema on page 1 is read at start), so
// the first query that meets the damage must mark the store at once, and
// an integrity check that cannot even run is a failed check, recorded.
func TestDamagedDatabaseIsNoticed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	path := f.s.Path()
	f.s.Close()                 // checkpoints: the users' rows are in the main file now
	e2e.CorruptPage(t, path, 2) // page 2 is the root of the users table

	s, err := Open(ctx, path, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatalf("a database with a damaged table must still open: %v", err)
	}
	defer s.Close()
	if h := s.Health(); h.Damaged != "" {
		t.Fatalf("damaged before any query met the damage: %+v", h)
	}
	_, err = s.Users(ctx)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("reading the damaged table: %v", err)
	}
	h := s.Health()
	if !strings.Contains(h.Damaged, "malformed") || h.DamagedAt.IsZero() {
		t.Errorf("health after the query: %+v", h)
	}

	// The check errors instead of listing problems: a failed check.
	res, err := s.CheckIntegrity(ctx)
	if err == nil || res.OK {
		t.Errorf("integrity check of a damaged file: %+v, %v", res, err)
	}
	last := s.LastIntegrity()
	if last == nil || last.OK || !strings.Contains(last.Detail, "malformed") {
		t.Errorf("last integrity check: %+v", last)
	}
	// The lookup of a session is a query like any other.
	if _, _, err := s.Sessions().FindCtx(ctx, "x"); err != nil && !errors.Is(err, ErrDamaged) {
		t.Errorf("session lookup: %v", err)
	}

	// A sound file: the check passes and nothing is marked.
	g := newFixture(t)
	if res, err := g.s.CheckIntegrity(ctx); err != nil || !res.OK {
		t.Errorf("sound file: %+v %v", res, err)
	}
	if h := g.s.Health(); h.Damaged != "" {
		t.Errorf("sound file: %+v", h)
	}
	// A cancelled check is not a result.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g2 := newFixture(t)
	if _, err := g2.s.CheckIntegrity(cctx); err == nil || g2.s.LastIntegrity() != nil || g2.s.Health().Damaged != "" {
		t.Errorf("cancelled check: %v %+v", err, g2.s.LastIntegrity())
	}
}

// A full disk makes writes fail with ErrStorageFull and the store say so
// until a write gets through again. SQLite's max_page_count fails writes
// exactly as a full disk does, without filling a real one.
func TestStorageFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "full.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := s.PageCount(ctx)
	s.Close()
	s, err = Open(ctx, path, Options{MaxPageCount: int(pages) + 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var full error
	saved := 0
	for ; saved < 1000; saved++ {
		_, full = s.CreateUser(ctx, NewUser{Email: fmt.Sprintf("u%d@example.org", saved), Name: fmt.Sprintf("Member %d %s", saved, strings.Repeat("x", 80)), Role: RoleMember, State: StateApproved})
		if full != nil {
			break
		}
	}
	if !errors.Is(full, ErrStorageFull) {
		t.Fatalf("filling the database: %v", full)
	}
	if h := s.Health(); !h.StorageFull || h.StorageFullAt.IsZero() {
		t.Errorf("health when full: %+v", h)
	}
	// The failed write saved nothing.
	if users, _ := s.Users(ctx); len(users) != saved {
		t.Errorf("%d users in the database, %d were acknowledged", len(users), saved)
	}
	// Space comes back (the administrator freed some): the next write that
	// gets through ends it. The writer pool is one connection, so the
	// pragma reaches the connection that writes.
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, NewUser{Email: "x@example.org", Name: "X", Role: RoleMember, State: StateApproved}); err != nil {
		t.Fatal(err)
	}
	if h := s.Health(); h.StorageFull {
		t.Errorf("still full after a successful write: %+v", h)
	}
}
