#!/bin/sh
# Builds the release binaries of the booking server:
#
#   deploy/release.sh VERSION [OUTDIR]      (OUTDIR defaults to dist/VERSION)
#
# Static (CGO_ENABLED=0: the SQLite driver is pure Go), stripped (-s -w) and
# without local paths (-trimpath), for
#   linux/arm64         64-bit Raspberry Pi OS (Pi Zero 2 W, Pi 3/4/5)
#   linux/arm GOARM=7   32-bit Raspberry Pi OS on the same boards
#   linux/amd64         a PC or a virtual machine
# and the same for the two Pi targets with the S3 client (-tags s3) as
# booking-s3-VERSION-linux-*: the default release leaves it out (a third of
# the binary; README "Two releases"),
# then booking-VERSION-install.tar.gz (deploy/install.sh, the units, the
# fail2ban files, litestream.yml, the README) and SHA256SUMS for them all.
# "booking version" prints VERSION, the Go version and the target.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
	echo "usage: deploy/release.sh VERSION [OUTDIR]" >&2
	exit 2
fi
version=$1
case $version in
*[!A-Za-z0-9._+-]*)
	echo "release.sh: VERSION may hold only letters, digits and . _ + -" >&2
	exit 2
	;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root/dist/$version}
mkdir -p "$out"
out=$(cd "$out" && pwd)

build() { # GOARCH GOARM NAME [FLAVOUR TAGS]
	echo "==> booking${4:-}-$version-$3"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$1 GOARM=$2 \
		go build -tags "${5:-}" -trimpath -ldflags "-s -w -X main.version=$version" \
		-o "$out/booking${4:-}-$version-$3" .)
}
build arm64 "" linux-arm64
build arm 7 linux-armv7
build amd64 "" linux-amd64
build arm64 "" linux-arm64 -s3 s3
build arm 7 linux-armv7 -s3 s3

# What the installer needs beside the binary, in one archive for the Pi.
echo "==> booking-$version-install.tar.gz"
(cd "$root" && tar -czf "$out/booking-$version-install.tar.gz" \
	--transform "s|^|booking-$version/|" --owner=0 --group=0 --mode=u+rw,go+r \
	README.md litestream.yml deploy/install.sh deploy/systemd deploy/fail2ban)

cd "$out"
sha256sum "booking-$version"-linux-* "booking-s3-$version"-linux-* "booking-$version-install.tar.gz" >SHA256SUMS
ls -l "booking-$version"-* "booking-s3-$version"-*
echo "==> $out/SHA256SUMS"
cat SHA256SUMS
