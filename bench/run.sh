#!/usr/bin/env bash
# The Pi budgets (issue 14), measured on this machine with references from the
# same run, so the ratios hold on a noisy machine.
#
#   bench/run.sh                 the working tree
#   bench/run.sh main HEAD       each revision built from git, rounds interleaved
#   bench/run.sh worktree worktree-s3   a name ending in -s3 is built with -tags s3
#
# The server runs as the shipped service does (deploy/systemd: GOMEMLIMIT)
# pinned to core 0 with GOMAXPROCS=1; the load comes from core 1. Everything
# talks to 127.0.0.1 only, and every phase stops after a bounded time.
# Knobs (environment): ROUNDS=3 MIX=60s WRITES=10s OPEN=20s RATE=100
# IDLE=120s TRICKLE=60 BURST=20 STARTS=9 BOOKINGS=1000 SKIP_REFS=1 (no reference benchmarks).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
MIX=${MIX:-60s}
WRITES=${WRITES:-10s}
OPEN=${OPEN:-20s}
RATE=${RATE:-100}
IDLE=${IDLE:-120s}
TRICKLE=${TRICKLE:-60}
BURST=${BURST:-20}
STARTS=${STARTS:-9}
BOOKINGS=${BOOKINGS:-1000}
SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
# What deploy/systemd/booking.service sets.
MEMLIMIT=$(sed -n 's/^Environment=GOMEMLIMIT=//p' "$(dirname "$0")/../deploy/systemd/booking.service")

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/booking-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

# --- builds -----------------------------------------------------------------
revs=("$@")
[ ${#revs[@]} -eq 0 ] && revs=(worktree)
for rev in "${revs[@]}"; do
	src=$root
	tags=
	name=$rev
	if [ "${rev%-s3}" != "$rev" ]; then
		tags=s3
		name=${rev%-s3}
	fi
	if [ "$name" != worktree ]; then
		src=$work/src-$name
		[ -d "$src" ] || { mkdir -p "$src" && git -C "$root" archive "$name" | tar -x -C "$src"; }
	fi
	# As deploy/release.sh builds: static, stripped.
	(cd "$src" && CGO_ENABLED=0 go build -tags "$tags" -trimpath -ldflags='-s -w' -o "$work/booking-$rev" .)
	# Each revision seeds its own sites: the page size of a new database
	# is the store's choice.
	if [ -d "$src/bench" ]; then
		(cd "$src" && go build -o "$work/bench-$rev" ./bench)
	fi
	say "binary $rev"
	printf '%-34s %12.1f MiB\n' "stripped, this machine" "$(echo "scale=1; $(stat -c %s "$work/booking-$rev")/1048576" | bc)"
	for target in arm64:: arm:7:; do
		IFS=: read -r arch arm _ <<<"$target"
		(cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm go build -tags "$tags" -trimpath -ldflags='-s -w' -o "$work/pi" .)
		printf '%-34s %12.1f MiB\n' "stripped, linux/$arch${arm:+v$arm}" "$(echo "scale=1; $(stat -c %s "$work/pi")/1048576" | bc)"
	done
done
(cd "$root" && go build -o "$work/bench" ./bench)

# --- references ---------------------------------------------------------------
if [ -z "${SKIP_REFS:-}" ]; then
	say "reference: raw SQLite commits (BEGIN IMMEDIATE, 2 INSERTs, FULL), one core"
	(cd "$root/backup" && go test -c -o "$work/backup.test" .)
	(cd "$root/backup" && GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$work/backup.test" \
		-test.run NONE -test.bench RawCommit -test.benchtime 3s) | grep -E '^Benchmark' |
		awk '{printf "%-34s %12.1f commits/s\n", $1, 1e9/$3}'

	say "reference: a bare net/http handler, one core, 50 connections"
	GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$work/bench" bare >"$work/bare.addr" &
	pids+=($!)
	sleep 0.5
	taskset -c "$LOAD_CORE" "$work/bench" hammer -base "http://$(cat "$work/bare.addr")/" -for 5s
	kill "${pids[-1]}"
fi

# --- sites --------------------------------------------------------------------
mksite() { # name members bookings [revision]
	local seeder=$work/bench
	[ -n "${4:-}" ] && [ -x "$work/bench-$4" ] && seeder=$work/bench-$4
	mkdir -p "$work/$1"
	cp "$root/litestream.yml" "$work/$1/"
	"$seeder" seed -dir "$work/$1" -members "$2" -bookings "$3"
}

serve() { # binary site -> sets server_pid, base
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	base=http://127.0.0.1:$port
	(cd "$work/$2" && GOMAXPROCS=1 GOMEMLIMIT=$MEMLIMIT exec taskset -c "$SERVER_CORE" "$work/$1" serve -addr "127.0.0.1:$port" \
		>>"$work/$2.log" 2>&1) &
	server_pid=$!
	pids+=("$server_pid")
	for _ in $(seq 200); do
		curl -fs -o /dev/null "$base/health" && return 0
		sleep 0.05
	done
	echo "server did not become healthy, see log:" >&2
	tail -20 "$work/$2.log" >&2
	return 1
}

stop() {
	kill -INT "$server_pid"
	wait "$server_pid" || true
}

load() { GOMAXPROCS=2 taskset -c "$LOAD_CORE" "$work/bench" "$@"; }

memory() { # breakdown of the running server
	local sm=/proc/$server_pid/smaps_rollup
	awk '/^(Rss|Anonymous|Private_Clean|Private_Dirty|Shared_Clean):/ {printf "%-34s %12.1f MiB\n", "smaps " $1, $2/1024}' "$sm"
	curl -fs "$base/health/memory" 2>/dev/null | tr -d '{}' | tr ',' '\n' | sed 's/^/runtime /' || true
	echo
}

for round in $(seq "$ROUNDS"); do
	for rev in "${revs[@]}"; do
		bin=booking-$rev
		say "round $round, $rev: 50-user mix for $MIX (closed loop, 50 connections)"
		rm -rf "$work/load"
		mksite load 50 0 "$rev"
		serve "$bin" load
		load mix -base "$base" -pid "$server_pid" -users 50 -for "$MIX"
		memory
		stop

		if [ -z "${SKIP_REFS:-}" ]; then
			say "round $round: reference right before the writes: raw commits with Litestream, one core"
			(cd "$root/backup" && GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$work/backup.test" \
				-test.run NONE -test.bench 'RawCommit/replicated' -test.benchtime 2s) | grep -E '^Benchmark' |
				awk '{printf "%-34s %12.1f commits/s\n", "raw commits (replicated)", 1e9/$3}'
		fi
		say "round $round, $rev: booking writes, 8 clients for $WRITES"
		rm -rf "$work/load"
		mksite load 50 0 "$rev"
		serve "$bin" load
		load writes -base "$base" -pid "$server_pid" -clients 8 -for "$WRITES"
		stop

		say "round $round, $rev: open load $RATE req/s of the mix for $OPEN"
		rm -rf "$work/load"
		mksite load 50 0 "$rev"
		serve "$bin" load
		load open -base "$base" -pid "$server_pid" -rate "$RATE" -for "$OPEN"
		stop

		say "round $round, $rev: page views at 50/s, and $BURST members logging in at once"
		rm -rf "$work/load"
		mksite load 50 0 "$rev"
		serve "$bin" load
		load logins -base "$base" -rate 50 -burst "$BURST" -for 15s
		stop

		say "round $round, $rev: start to healthy with $BOOKINGS bookings ($STARTS starts)"
		rm -rf "$work/start"
		mksite start 50 "$BOOKINGS" "$rev"
		(cd "$work/start" && GOMAXPROCS=1 GOMEMLIMIT=$MEMLIMIT "$work/bench" start -bin "$work/$bin" -dir "$work/start" -n "$STARTS")
	done
done

for rev in "${revs[@]}"; do
	say "$rev: one booking a second, $TRICKLE bookings, on a server that did nothing else"
	rm -rf "$work/load"
	mksite load 50 0 "$rev"
	serve "booking-$rev" load
	load trickle -base "$base" -pid "$server_pid" -n "$TRICKLE"
	stop

	say "$rev: idle, 10 logged-in phones, one look a minute, for $IDLE"
	rm -rf "$work/load"
	mksite load 50 0 "$rev"
	serve "booking-$rev" load
	load idle -base "$base" -pid "$server_pid" -phones 10 -for "$IDLE"
	stop
done
