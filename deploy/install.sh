#!/bin/sh
# Installs the booking server on a Raspberry Pi (or any Debian with systemd):
#
#   sudo deploy/install.sh [--root DIR] BINARY     install or re-install
#   sudo deploy/install.sh [--root DIR] --uninstall
#
#   /usr/local/bin/booking              the binary (replaced on every run)
#   /var/lib/booking/                   the data, owned by the system user
#                                       "booking" (never touched again)
#   /etc/booking/litestream.yml         the config, with the data path set
#   /etc/booking/booking.env            secrets, mode 0600 (both kept once
#                                       written: edit them, re-run freely)
#   /etc/systemd/system/booking.{socket,service}      (replaced on every run)
#   /etc/systemd/system/booking.service.d/replica.conf   for a replica folder
#                                       outside /var/lib/booking: the service
#                                       may write there and waits for its mount
#   /etc/fail2ban/filter.d/booking.conf, jail.d/booking.local
#                                       only when fail2ban is installed
#
# --root DIR installs into DIR instead of / (for tests, or an SD card
# mounted on another machine): nothing outside DIR changes and no service is
# started. --uninstall removes what this script installed except the data
# (/var/lib/booking), the config (/etc/booking) and the user, and says so.
# Run it from the unpacked release (booking-VERSION-install.tar.gz) or a
# clone: it takes the units and litestream.yml from beside this script.
set -eu

usage() {
	echo "usage: deploy/install.sh [--root DIR] BINARY | [--root DIR] --uninstall" >&2
	exit 2
}

root=
uninstall=no
while [ $# -gt 0 ]; do
	case $1 in
	--root)
		[ $# -ge 2 ] || usage
		root=$2
		shift 2
		;;
	--root=*)
		root=${1#--root=}
		shift
		;;
	--uninstall)
		uninstall=yes
		shift
		;;
	-h | --help) usage ;;
	--)
		shift
		break
		;;
	-*) usage ;;
	*) break ;;
	esac
done
if [ "$uninstall" = yes ]; then
	[ $# -eq 0 ] || usage
else
	[ $# -eq 1 ] || usage
	binary=$1
fi
if [ -n "$root" ]; then
	mkdir -p "$root"
	root=$(cd "$root" && pwd)
	[ "$root" != / ] || root=
elif [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run it as root (sudo), or with --root DIR" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)

say() { printf '%s\n' "$*"; }

# systemctl, offline inside --root.
sysctl() {
	if [ -n "$root" ]; then
		systemctl --root="$root" "$@"
	else
		systemctl "$@"
	fi
}

dropin=$root/etc/systemd/system/booking.service.d

if [ "$uninstall" = yes ]; then
	if [ -z "$root" ]; then
		systemctl disable --now booking.service booking.socket 2>/dev/null || true
	else
		sysctl disable booking.service booking.socket 2>/dev/null || true
	fi
	rm -f "$root/etc/systemd/system/booking.service" "$root/etc/systemd/system/booking.socket" \
		"$dropin/replica.conf" "$root/usr/local/bin/booking" \
		"$root/usr/local/lib/sysusers.d/booking.conf" \
		"$root/etc/fail2ban/filter.d/booking.conf" "$root/etc/fail2ban/jail.d/booking.local"
	rmdir "$dropin" 2>/dev/null || true
	if [ -z "$root" ]; then
		systemctl daemon-reload
		if systemctl is-active --quiet fail2ban 2>/dev/null; then systemctl reload fail2ban || true; fi
	fi
	say "Removed the booking server's program, units and fail2ban files."
	say "Kept the data ($root/var/lib/booking), the config ($root/etc/booking) and the user \"booking\"."
	say "Delete them yourself once you are sure: rm -r /var/lib/booking /etc/booking; userdel booking"
	exit 0
fi

if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
	echo "install.sh: $binary is not an executable file" >&2
	exit 1
fi

# The system user, without a shell or a home of its own to log in to.
install -d -m 0755 "$root/etc" "$root/usr/local/lib/sysusers.d"
install -m 0644 /dev/stdin "$root/usr/local/lib/sysusers.d/booking.conf" <<'EOF'
# The booking server's system user (deploy/install.sh).
u booking - "Family booking server" /var/lib/booking /usr/sbin/nologin
EOF
if command -v systemd-sysusers >/dev/null 2>&1; then
	if [ -n "$root" ]; then
		systemd-sysusers --root="$root" booking.conf
	else
		systemd-sysusers booking.conf
	fi
elif ! grep -q '^booking:' "$root/etc/passwd" 2>/dev/null; then
	set -- --system --user-group --no-create-home --home-dir /var/lib/booking --shell /usr/sbin/nologin
	if [ -n "$root" ]; then set -- --root "$root" "$@"; fi
	useradd "$@" booking
fi
# Owners by number, read from the tree's own passwd: under --root the user
# exists only there.
uid=$(awk -F: '$1 == "booking" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "booking" { print $4 }' "$root/etc/passwd")
if [ -z "$uid" ] || [ -z "$gid" ]; then
	echo "install.sh: could not create the user booking" >&2
	exit 1
fi

# The binary, replaced atomically: a running server keeps its old file.
install -d -m 0755 "$root/usr/local/bin"
install -m 0755 "$binary" "$root/usr/local/bin/.booking.new"
mv -f "$root/usr/local/bin/.booking.new" "$root/usr/local/bin/booking"

# Data and config: created once, never overwritten.
install -d -m 0700 -o "$uid" -g "$gid" "$root/var/lib/booking"
install -d -m 0750 -o 0 -g "$gid" "$root/etc/booking"
if [ ! -e "$root/etc/booking/litestream.yml" ]; then
	sed -e 's|^\(  - path: \)data/booking\.db$|\1/var/lib/booking/booking.db|' \
		-e 's|^\(      path: \)data/replica$|\1/var/lib/booking/replica|' \
		"$src/litestream.yml" >"$root/etc/booking/.litestream.yml.new"
	grep -q '^  - path: /var/lib/booking/booking\.db$' "$root/etc/booking/.litestream.yml.new" || {
		echo "install.sh: $src/litestream.yml does not name data/booking.db as shipped" >&2
		exit 1
	}
	chown 0:"$gid" "$root/etc/booking/.litestream.yml.new"
	chmod 0640 "$root/etc/booking/.litestream.yml.new"
	mv "$root/etc/booking/.litestream.yml.new" "$root/etc/booking/litestream.yml"
	say "Wrote $root/etc/booking/litestream.yml"
else
	# Kept as it is, but readable by the service: a copy put back by hand
	# (from the backup stick, onto a new SD card) is root's alone.
	chown 0:"$gid" "$root/etc/booking/litestream.yml"
	chmod 0640 "$root/etc/booking/litestream.yml"
	say "Kept $root/etc/booking/litestream.yml"
fi
if [ ! -e "$root/etc/booking/booking.env" ]; then
	# systemd reads it as root before the service starts: only root may.
	(umask 077 && cat >"$root/etc/booking/booking.env" <<'EOF'
# Secrets for the booking server, read by systemd (EnvironmentFile=).
# One VAR=value per line; litestream.yml names them as ${VAR}.
#
# Require "Authorization: Bearer TOKEN" on /metrics:
#BOOKING_METRICS_TOKEN=
# Mail (invitations, password resets), e.g. smtps://user:password@mail.example.org:465:
#BOOKING_SMTP_URL=
#BOOKING_MAIL_FROM=
# An S3 replica:
#LITESTREAM_ACCESS_KEY_ID=
#LITESTREAM_SECRET_ACCESS_KEY=
EOF
	)
	chown 0:0 "$root/etc/booking/booking.env"
	chmod 0600 "$root/etc/booking/booking.env"
	say "Wrote $root/etc/booking/booking.env"
else
	chown 0:0 "$root/etc/booking/booking.env"
	chmod 0600 "$root/etc/booking/booking.env"
	say "Kept $root/etc/booking/booking.env"
fi

# The units: ours, replaced on every run (local changes go in drop-ins).
install -d -m 0755 "$root/etc/systemd/system"
install -m 0644 "$here/systemd/booking.socket" "$here/systemd/booking.service" "$root/etc/systemd/system/"

# The replica's folder, as the server reads the config. A binary for
# another machine (an SD card prepared on a PC) cannot tell.
replica=
if replica=$("$root/usr/local/bin/booking" check-config --replica-dir -config "$root/etc/booking/litestream.yml" 2>/dev/null); then
	:
else
	replica=unknown
fi
case $replica in
unknown)
	say "Could not run the binary here to read the replica's folder: if it is outside /var/lib/booking, re-run this script on the Pi."
	;;
"" | /var/lib/booking | /var/lib/booking/*)
	rm -f "$dropin/replica.conf"
	rmdir "$dropin" 2>/dev/null || true
	;;
*)
	install -d -m 0755 "$dropin"
	install -m 0644 /dev/stdin "$dropin/replica.conf" <<EOF
# Written by deploy/install.sh from /etc/booking/litestream.yml: the replica
# folder is outside /var/lib/booking. Start only once its disk is mounted,
# and may write there. Re-run the installer after changing the replica.
[Unit]
RequiresMountsFor=$replica

[Service]
ReadWritePaths=$replica
EOF
	say "Wrote $dropin/replica.conf (the service waits for $replica and may write there)"
	if [ ! -d "$root$replica" ]; then
		say "Create the replica folder on the mounted disk: sudo install -d -o booking -g booking -m 0700 $replica"
	fi
	;;
esac

# A replica on the database's own disk dies with the SD card.
devof() { # the device of $1, or of its nearest existing parent
	p=$1
	while [ ! -e "$p" ]; do p=$(dirname "$p"); done
	stat -c %d "$p"
}
case $replica in
"" | unknown) ;;
*)
	if [ "$(devof "$root$replica")" = "$(devof "$root/var/lib/booking")" ]; then
		say ""
		say "WARNING: the replica ($replica) is on the same disk as the database."
		say "  It undoes mistakes but dies with the SD card. Point it at a USB disk,"
		say "  a NAS (SFTP) or S3: see \"Moving the replica off the SD card\" in the README."
	fi
	;;
esac

# fail2ban, only where it is installed. The jail is the administrator's to
# tune: written once.
if [ -d "$root/etc/fail2ban" ]; then
	install -d -m 0755 "$root/etc/fail2ban/filter.d" "$root/etc/fail2ban/jail.d"
	install -m 0644 "$here/fail2ban/booking.conf" "$root/etc/fail2ban/filter.d/booking.conf"
	if [ ! -e "$root/etc/fail2ban/jail.d/booking.local" ]; then
		install -m 0644 /dev/stdin "$root/etc/fail2ban/jail.d/booking.local" <<'EOF'
# Bans an address after 10 failed logins in 10 minutes (deploy/install.sh).
[booking]
enabled  = true
backend  = systemd
journalmatch = _SYSTEMD_UNIT=booking.service
port     = 8080
maxretry = 10
findtime = 10m
bantime  = 1h
EOF
	fi
	say "Installed the fail2ban filter and jail"
	if [ -z "$root" ] && systemctl is-active --quiet fail2ban 2>/dev/null; then systemctl reload fail2ban || true; fi
fi

sysctl enable --quiet booking.socket booking.service
if [ -n "$root" ]; then
	say ""
	say "Installed into $root. On the machine itself, start it with:"
	say "  sudo systemctl start booking.socket booking.service"
	exit 0
fi
systemctl daemon-reload
systemctl start booking.socket
systemctl restart booking.service
say ""
say "The booking server runs (systemctl status booking). Next, create the first administrator:"
say "  open the one-time setup link it logged:  journalctl -u booking | grep setup_url"
say "  or on the command line:                  sudo -u booking booking user add --admin --email you@example.org --name You"
