//go:build s3

package lsconfig

import (
	"testing"

	"github.com/benbjohnson/litestream/s3"
)

func TestS3ClientBuilt(t *testing.T) {
	c, err := mustParse(t, db("      type: s3\n      bucket: family\n      path: booking\n      endpoint: https://x.r2.cloudflarestorage.com\n      access-key-id: AKID\n      secret-access-key: SECRET\n")).DB().Replica.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	sc := c.(*s3.ReplicaClient)
	if sc.Bucket != "family" || sc.Path != "booking" || sc.AccessKeyID != "AKID" || sc.SecretAccessKey != "SECRET" ||
		!sc.SignPayload || sc.Concurrency != s3.DefaultR2Concurrency {
		t.Errorf("client = %+v", sc)
	}
	if s3DefaultRegion != s3.DefaultRegion || s3DefaultR2Concurrency != s3.DefaultR2Concurrency ||
		s3DefaultTigrisConcurrency != s3.DefaultTigrisConcurrency || s3DefaultTigrisPartSize != s3.DefaultTigrisPartSize {
		t.Error("the copied defaults differ from Litestream's")
	}
	for _, host := range []string{"family.s3.eu-central-1.amazonaws.com", "b.fra1.digitaloceanspaces.com", "b.s3.eu-central-003.backblazeb2.com",
		"b.s3.filebase.com", "b.s3.fr-par.scw.cloud", "minio.local:9000", "b.minio.local:9000", "plain"} {
		b1, r1, e1, f1 := parseS3Host(host)
		b2, r2, e2, f2 := s3.ParseHost(host)
		if b1 != b2 || r1 != r2 || e1 != e2 || f1 != f2 {
			t.Errorf("%s: parseS3Host %q %q %q %v, s3.ParseHost %q %q %q %v", host, b1, r1, e1, f1, b2, r2, e2, f2)
		}
	}
}
