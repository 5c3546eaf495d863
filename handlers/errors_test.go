package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"booking/store"
)

func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		key    string
	}{
		{refuse(http.StatusBadRequest, "err.bad_month"), http.StatusBadRequest, "err.bad_month"},
		{fmt.Errorf("wrapped: %w", refuse(http.StatusGone, "err.link_invalid")), http.StatusGone, "err.link_invalid"},
		{fmt.Errorf("booking 7: %w", store.ErrNotFound), http.StatusNotFound, "err.not_found"},
		{store.ErrForbidden, http.StatusForbidden, "err.forbidden"},
		{store.ErrConflict, http.StatusConflict, "err.conflict"},
		{store.ErrTokenInvalid, http.StatusGone, "err.link_invalid"},
		{&store.ValidationError{}, http.StatusUnprocessableEntity, "err.invalid"},
		{errors.New("disk I/O error"), http.StatusInternalServerError, "err.server"},
	} {
		if status, key := errorStatus(tc.err); status != tc.status || key != tc.key {
			t.Errorf("%v: %d %s, want %d %s", tc.err, status, key, tc.status, tc.key)
		}
	}
}

func TestVersionedCache(t *testing.T) {
	version := uint64(1)
	c := newVersionedCache[string, int](func() uint64 { return version }, 2)
	if _, v, ok := c.get("a"); ok || v != 1 {
		t.Fatalf("empty cache: hit %v at version %d", ok, v)
	}
	c.put(1, "a", 10)
	if n, _, ok := c.get("a"); !ok || n != 10 {
		t.Fatalf("get after put: %d %v", n, ok)
	}

	// A value computed while the data changed is not kept.
	_, v, _ := c.get("b")
	version = 2
	c.put(v, "b", 20)
	if _, _, ok := c.get("b"); ok {
		t.Errorf("a value of old data was kept")
	}
	// A change of the data makes every value stale.
	if _, _, ok := c.get("a"); ok {
		t.Errorf("a value survived a change of the data")
	}

	// Full, it starts over.
	c.put(2, "a", 1)
	c.put(2, "b", 2)
	c.put(2, "c", 3)
	if _, _, ok := c.get("a"); ok {
		t.Errorf("more values than the limit")
	}
	if n, _, ok := c.get("c"); !ok || n != 3 {
		t.Errorf("the newest value is lost: %d %v", n, ok)
	}
}
