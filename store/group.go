package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Group commit for booking changes.
//
// A commit costs an fsync of the WAL (synchronous=FULL), and on an SD card
// that wait, not the CPU, is what limits how many bookings a second the
// single writer takes. Booking changes that arrive while a commit is under
// way are therefore run together in the next transaction, each inside a
// savepoint of its own: one that fails is rolled back to its savepoint and
// gets its own error, the others commit together with one fsync. Each
// caller still returns only after the commit that holds its change is on
// disk, so nothing is acknowledged earlier than before. A lone change (the
// usual case in a family) runs in a transaction of its own as before.
//
// Only booking changes are grouped: their functions keep no state outside
// the transaction, and they run in the order they arrived, so each sees the
// ones before it exactly as if they had committed one by one (the capacity
// and pending-limit checks included).

// maxGroup bounds how many changes share one commit, and so how long the
// last of them waits.
const maxGroup = 32

const (
	sqlSavepoint       = `SAVEPOINT grouped`
	sqlRollbackToSaved = `ROLLBACK TO grouped`
	sqlReleaseSaved    = `RELEASE grouped`
)

// groupStatements are prepared on the writer with the other hot statements.
var groupStatements = []string{sqlSavepoint, sqlRollbackToSaved, sqlReleaseSaved}

type groupedWrite struct {
	ctx     context.Context
	booking *int64 // the booking fn changes, once it has run (see changeLog)
	fn      func(tx *sql.Tx) error
	done    chan error
}

var errClosed = errors.New("the database is closed")

// writeGrouped is write for booking changes: fn may share its transaction
// with other booking changes that arrive meanwhile (see above). fn changes
// one booking and nothing else, the one whose id it leaves in *booking: the
// change log records it (see BookingsChanged).
func (s *Store) writeGrouped(ctx context.Context, booking *int64, fn func(tx *sql.Tx) error) error {
	w := &groupedWrite{ctx: ctx, booking: booking, fn: fn, done: make(chan error, 1)}
	select {
	case s.groupIn <- w:
	case <-s.groupQuit:
		return errClosed
	case <-CallerDone(ctx):
		return callerErr(ctx)
	}
	return <-w.done
}

// committer runs the grouped writes until Close.
func (s *Store) committer() {
	defer close(s.groupDone)
	for {
		var first *groupedWrite
		select {
		case first = <-s.groupIn:
		case <-s.groupQuit:
			return
		}
		batch := []*groupedWrite{first}
	more:
		for len(batch) < maxGroup {
			select {
			case w := <-s.groupIn:
				batch = append(batch, w)
			default:
				break more
			}
		}
		s.commitGroup(batch)
	}
}

// commitGroup commits batch in one transaction and tells each caller how
// its change went.
func (s *Store) commitGroup(batch []*groupedWrite) {
	if len(batch) == 1 {
		w := batch[0]
		w.done <- s.transact(w.ctx, true, w.booking, guard(w.fn))
		return
	}
	errs, abort := s.tryGroup(batch)
	if abort != nil {
		// The transaction could not go on (e.g. a full disk rolls back
		// more than a savepoint): nothing of it was kept, so each change
		// runs again on its own and meets the problem by itself.
		for _, w := range batch {
			w.done <- s.transact(w.ctx, true, w.booking, guard(w.fn))
		}
		return
	}
	for i, w := range batch {
		w.done <- errs[i]
	}
}

// tryGroup runs batch in one transaction. errs holds each change's own
// outcome; abort is set when the transaction as a whole failed and nothing
// was committed.
func (s *Store) tryGroup(batch []*groupedWrite) (errs []error, abort error) {
	// Not a caller's context: one caller going away must not end the
	// transaction of the others. Each change's statements use its own.
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	errs = make([]error, len(batch))
	kept := 0
	for i, w := range batch {
		if err := callerErr(w.ctx); err != nil {
			errs[i] = err
			continue
		}
		if _, err := s.execTx(ctx, tx, sqlSavepoint); err != nil {
			abort = err
			break
		}
		if err := guard(w.fn)(tx); err != nil {
			errs[i] = err
			if _, rerr := s.execTx(ctx, tx, sqlRollbackToSaved); rerr != nil {
				abort = rerr
				break
			}
		} else {
			kept++
		}
		if _, err := s.execTx(ctx, tx, sqlReleaseSaved); err != nil {
			abort = err
			break
		}
	}
	if abort != nil || kept == 0 {
		tx.Rollback()
		s.afterCommit(tx, false)
		return errs, abort
	}
	if err := tx.Commit(); err != nil {
		s.afterCommit(tx, false)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs, nil
	}
	// The change log names every booking of the group: one whose change
	// was rolled back to its savepoint is read again for nothing, which
	// does no harm. A change that names none may have changed anything.
	var ids []int64
	for _, w := range batch {
		if w.booking == nil {
			ids = nil
			break
		}
		if *w.booking != 0 {
			ids = append(ids, *w.booking)
		}
	}
	s.changed(ids)
	s.afterCommit(tx, true)
	return errs, nil
}

// guard turns a panic in fn into its error: fn runs on the committer's
// goroutine, where a panic would end the whole server rather than one
// request.
func guard(fn func(tx *sql.Tx) error) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic in a booking change: %v", p)
			}
		}()
		return fn(tx)
	}
}
