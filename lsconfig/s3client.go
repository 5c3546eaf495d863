//go:build s3

package lsconfig

import (
	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/s3"
)

// S3Built tells whether this build can replicate to S3 (the booking-s3
// release, built with -tags s3).
const S3Built = true

func newS3Client(o s3Options) (litestream.ReplicaClient, error) {
	client := s3.NewReplicaClient()
	client.AccessKeyID = o.AccessKeyID
	client.SecretAccessKey = o.SecretAccessKey
	client.Bucket = o.Bucket
	client.Path = o.Path
	client.Region = o.Region
	client.Endpoint = o.Endpoint
	client.ForcePathStyle = o.ForcePathStyle
	client.SignPayload = true
	client.SignAcceptEncoding = true
	client.RequireContentMD5 = o.RequireContentMD5
	if o.Concurrency > 0 {
		client.Concurrency = o.Concurrency
	}
	if o.PartSize > 0 {
		client.PartSize = o.PartSize
	}
	return client, nil
}
