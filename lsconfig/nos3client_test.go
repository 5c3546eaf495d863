//go:build !s3

package lsconfig

import (
	"strings"
	"testing"
)

// Without the S3 client, an s3 replica is still read and checked, and the
// server says which release to use instead of starting without a backup.
func TestS3ClientNotBuilt(t *testing.T) {
	_, err := mustParse(t, db("      url: s3://family/booking\n")).DB().Replica.NewClient()
	if err == nil || !strings.Contains(err.Error(), "booking-s3") {
		t.Errorf("NewClient: %v", err)
	}
}
