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
# and SHA256SUMS for them. "booking version" prints VERSION, the Go version
# and the target.
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

build() { # GOARCH GOARM NAME
	echo "==> booking-$version-$3"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$1 GOARM=$2 \
		go build -trimpath -ldflags "-s -w -X main.version=$version" \
		-o "$out/booking-$version-$3" .)
}
build arm64 "" linux-arm64
build arm 7 linux-armv7
build amd64 "" linux-amd64

cd "$out"
sha256sum "booking-$version"-linux-* >SHA256SUMS
ls -l "booking-$version"-linux-*
echo "==> $out/SHA256SUMS"
cat SHA256SUMS
