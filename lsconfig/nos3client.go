//go:build !s3

package lsconfig

import (
	"github.com/benbjohnson/litestream"
)

// S3Built tells whether this build can replicate to S3 (the booking-s3
// release, built with -tags s3). The default Pi release leaves the S3 client
// out: it is a third of the binary, and the Pi replicates to a USB disk or a
// NAS over SFTP.
const S3Built = false

func newS3Client(o s3Options) (litestream.ReplicaClient, error) {
	return nil, keyErrorf("type", "this build has no S3 client: use the booking-s3 release (built with -tags s3) for an s3 replica")
}
