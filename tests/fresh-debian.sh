#!/usr/bin/env bash
# fresh-debian.sh: prove the README's commands on a fresh, minimal Debian 12.
#
#   tests/fresh-debian.sh [--keep] [--root DIR] [--cache DIR] [--timeout SECONDS]
#                         [--repo DIR|URL] [--mirror URL] [-- COMMAND [ARGS...]]
#
# Builds the machine a new user starts from: `debootstrap --variant=minbase bookworm`
# plus `apt-get install git`, nothing else. Mounts /proc, /sys, /dev (with /dev/pts,
# /dev/shm), a tmpfs /run, gives it the host's resolv.conf and the host's Debian mirror
# (bookworm, bookworm-updates, bookworm-security), then, inside it via chroot and as root:
#   git clone --no-local <repo> /root/kiln && cd /root/kiln && COMMAND
# COMMAND (default `bash .ci/run`, what CI runs) gets a clean environment (HOME=/root, a
# standard PATH, CI=true) and stdin from /dev/null, as in CI. The clone holds the
# repository's committed HEAD only: uncommitted changes are not part of the test.
#
#   --repo DIR|URL   repository to clone (default: the one this script lives in). A local
#                    repository is bind-mounted read-only into the root and cloned from there.
#   --root DIR       where to build the root (must not exist or be empty; default: a new
#                    /var/tmp/kiln-fresh.XXXXXX). Removed at the end unless --keep.
#   --keep           keep the root (the mounts are always undone)
#   --cache DIR      keep the freshly debootstrapped minbase+git root as
#                    DIR/bookworm-minbase-git.tar (rebuilt when older than 7 days; delete it
#                    to rebuild sooner). Every run unpacks an untouched copy of it, never
#                    reuses a root a previous run installed into.
#   --timeout N      bound for the whole run, debootstrap included (default 5400 s)
#   --mirror URL     Debian mirror (default: the host's, from /etc/apt/sources.list*)
#
# Examples:
#   tests/fresh-debian.sh --cache ~/.cache/kiln/fresh                 # what CI runs
#   tests/fresh-debian.sh --cache ~/.cache/kiln/fresh -- tests/demo.sh
#   tests/fresh-debian.sh --keep -- bash -c 'tests/deps.sh && tests/build.sh build'
#
# Needs root (debootstrap, mount, chroot); installs debootstrap on the host if missing.
# Everything is mounted in a private mount namespace and unmounted again on every exit
# (success, failure, timeout, Ctrl-C); processes left running inside the root are killed
# first. Exit status: COMMAND's; 124 when the run timed out; 125 when the setup failed;
# 128+N when stopped by signal N.
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
SUITE=bookworm
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SRC_IN_ROOT=/mnt/kiln-src # where a local repository is bind-mounted inside the root
CLONE_IN_ROOT=/root/kiln  # where it is cloned
CACHE_MAX_DAYS=7

KEEP=0 ROOT='' CACHE='' TIMEOUT=5400 REPO='' MIRROR=''
CMD=(bash .ci/run)
ARGS=("$@") # for the re-exec below

usage() {
	sed -n '4,5p' "$SCRIPT" | sed 's/^# *//' >&2
	exit 125
}
say() { printf '[fresh-debian %5ss] %s\n' "$SECONDS" "$*" >&2; }
die() {
	say "error: $*"
	exit 125
}

while (($#)); do
	case $1 in
	--keep) KEEP=1 ;;
	--root) ROOT=${2:?--root needs DIR} && shift ;;
	--cache) CACHE=${2:?--cache needs DIR} && shift ;;
	--timeout) TIMEOUT=${2:?--timeout needs SECONDS} && shift ;;
	--repo) REPO=${2:?--repo needs DIR or URL} && shift ;;
	--mirror) MIRROR=${2:?--mirror needs URL} && shift ;;
	-h | --help) usage ;;
	--)
		shift
		(($#)) && CMD=("$@")
		break
		;;
	*) say "unknown option: $1" && usage ;;
	esac
	shift
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout takes whole seconds"
((EUID == 0)) || die "needs root (debootstrap, mount, chroot)"

# Everything below runs in a private mount namespace: nothing mounted here can propagate to
# the host, and whatever the trap below could not unmount goes away with the namespace.
if [[ ${FRESH_DEBIAN_PRIVATE_NS:-} != 1 ]]; then
	export FRESH_DEBIAN_PRIVATE_NS=1
	exec unshare --mount --propagation private -- bash "$SCRIPT" "${ARGS[@]}"
fi
unset FRESH_DEBIAN_PRIVATE_NS
DEADLINE=$((SECONDS + TIMEOUT))

# ---------------------------------------------------------------------------------------
# Bounded steps, timings, cleanup

LOGDIR=
CHILD=        # pid of the `timeout` running the current step
CREATED_ROOT=0
TIMINGS=()
CUR_STEP='' CUR_T0=0 # the step in progress
STATUS_NOTE=

# bounded CMD...: run CMD under what is left of --timeout. It runs in the background and we
# `wait` for it, so that Ctrl-C/SIGTERM reach the trap at once (bash runs traps only
# between commands); `timeout` puts CMD in its own process group and, when signalled or
# when time is up, signals that whole group.
bounded() {
	local left=$((DEADLINE - SECONDS)) rc=0
	((left > 0)) || timed_out
	timeout -k 15 "$left" "$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	if ((rc == 124 || rc == 137)) && ((SECONDS >= DEADLINE)); then
		timed_out
	fi
	return "$rc"
}
timed_out() {
	say "timed out: the run exceeded --timeout ${TIMEOUT}s"
	exit 124
}

# step NAME [--log FILE] CMD...: a bounded step whose time goes into the summary. With
# --log, CMD's output goes to FILE and its tail is shown only when CMD fails.
step() {
	local name=$1 log='' t0=$SECONDS rc=0
	shift
	if [[ $1 == --log ]]; then
		log=$2
		shift 2
	fi
	say "$name"
	CUR_STEP=$name CUR_T0=$t0
	if [[ -n $log ]]; then
		bounded "$@" >"$log" 2>&1 || rc=$?
	else
		bounded "$@" || rc=$?
	fi
	CUR_STEP=''
	TIMINGS+=("$(printf '%-50s %5ds' "$name" $((SECONDS - t0)))")
	if ((rc)) && [[ -n $log ]]; then
		say "$name failed (status $rc); last lines of $log:"
		tail -n 40 "$log" | sed 's/^/    /' >&2
	fi
	return "$rc"
}

# shellcheck disable=SC2317  # on_signal and cleanup run from traps
on_signal() {
	local sig=$1 num=$2
	say "caught SIG$sig: stopping"
	[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null
	exit $((128 + num))
}
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

# root_pids: processes whose root directory is inside $ROOT (the chroot's processes,
# including any that left the command's process group, e.g. QEMU under kvm-run's timeout).
# shellcheck disable=SC2317
root_pids() {
	find /proc/[0-9]* -maxdepth 1 -name root \( -lname "$ROOT" -o -lname "$ROOT/*" \) \
		-printf '%h\n' 2>/dev/null | sed 's|^/proc/||' || true
}
# shellcheck disable=SC2317
kill_root_procs() {
	local pids i
	pids=$(root_pids)
	[[ -n $pids ]] || return 0
	say "stopping processes still running in the root: ${pids//$'\n'/ }"
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		sleep 0.5
		pids=$(root_pids)
		[[ -n $pids ]] || return 0
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 1
}

# mounts_under DIR: DIR (when it is one) and the mount points below it, innermost last
# (mountinfo order).
mounts_under() {
	awk -v r="$1/" 'index($5 "/", r) == 1 { print $5 }' /proc/self/mountinfo
}
unmount_all() {
	local m
	while read -r m; do
		[[ -n $m ]] || continue
		umount "$m" 2>/dev/null || umount -R "$m" 2>/dev/null || {
			say "umount $m failed, detaching it lazily"
			umount -l "$m" || true
		}
	done < <(mounts_under "$ROOT" | tac)
	[[ -z $(mounts_under "$ROOT") ]]
}

# shellcheck disable=SC2317
cleanup() {
	local rc=$?
	trap '' INT TERM HUP # a second Ctrl-C must not leave mounts behind
	[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null
	[[ -n $CUR_STEP ]] && TIMINGS+=("$(printf '%-50s %5ds (interrupted)' "$CUR_STEP" $((SECONDS - CUR_T0)))")
	if [[ -n $ROOT && -d $ROOT ]]; then
		kill_root_procs
		if ! unmount_all; then
			say "still mounted under $ROOT (not removing it):"
			mounts_under "$ROOT" | sed 's/^/    /' >&2
			KEEP=1
		fi
		if ((KEEP)); then
			say "kept the root: $ROOT"
		elif ((CREATED_ROOT)); then
			say "removing $ROOT"
			rm -rf --one-file-system "$ROOT" || say "could not remove all of $ROOT"
		fi
	fi
	if [[ -n $LOGDIR ]] && ((rc == 0 && !KEEP)); then
		rm -rf "$LOGDIR"
	fi
	if ((${#TIMINGS[@]})); then
		say "timings:"
		printf '    %s\n' "${TIMINGS[@]}" >&2
	fi
	say "exit status $rc${STATUS_NOTE:+ ($STATUS_NOTE)}, total ${SECONDS}s"
	exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------
# Host side: repository, mirror, debootstrap, root directory

# host_mirror REGEX: the first apt source URI of the host matching REGEX.
host_mirror() {
	local uris
	uris=$(
		grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{ for (i = 2; i <= NF; i++) print $i }'
		grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
			awk '{ print ($2 ~ /^\[/) ? $3 : $2 }'
	) || true
	grep -m1 -E "$1" <<<"$uris"
}

if [[ -z $REPO ]]; then
	REPO=$(git -C "$(dirname "$SCRIPT")" rev-parse --show-toplevel) || die "not in a git repository; use --repo"
fi
SRC_BIND= # host directory bind-mounted at $SRC_IN_ROOT (local repositories)
if [[ -d $REPO ]]; then
	REPO=$(readlink -f "$REPO")
	command -v git >/dev/null || die "git is needed on the host to read $REPO"
	SRC_BIND=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir) ||
		die "$REPO is not a git repository"
	HEAD_SHA=$(git -C "$REPO" rev-parse HEAD) || die "$REPO has no commits"
	say "repository $REPO, HEAD $(git -C "$REPO" log -1 --format='%h %s' HEAD)"
	if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		say "note: $REPO has uncommitted changes; they are not part of this test (clone of HEAD)"
	fi
	CLONE_FROM=$SRC_IN_ROOT
else
	HEAD_SHA=
	CLONE_FROM=$REPO
	say "repository $REPO"
fi

if [[ -z $MIRROR ]]; then
	MIRROR=$(host_mirror '/debian/?$') || MIRROR=http://deb.debian.org/debian
fi
MIRROR=${MIRROR%/}
SECURITY=$(host_mirror '/debian-security/?$') || SECURITY=http://security.debian.org/debian-security
SECURITY=${SECURITY%/}
say "mirror $MIRROR, security $SECURITY"

if ! command -v debootstrap >/dev/null; then
	say "installing debootstrap on the host"
	export DEBIAN_FRONTEND=noninteractive
	bounded apt-get install -y -qq debootstrap >/dev/null ||
		{ bounded apt-get update -qq && bounded apt-get install -y -qq debootstrap >/dev/null; } ||
		die "cannot install debootstrap"
fi

if [[ -z $ROOT ]]; then
	mkdir -p /var/tmp
	ROOT=$(mktemp -d /var/tmp/kiln-fresh.XXXXXX)
	CREATED_ROOT=1
elif [[ -e $ROOT ]]; then
	[[ -d $ROOT && -z $(ls -A "$ROOT") ]] || die "--root $ROOT exists and is not an empty directory"
	CREATED_ROOT=1 # empty: nothing of the user's is lost when it goes
else
	mkdir -p "$ROOT"
	CREATED_ROOT=1
fi
ROOT=$(readlink -f "$ROOT")
chmod 0755 "$ROOT" # it becomes /: mktemp's 0700 would lock out every user but root (_apt)
[[ $ROOT != / && $ROOT =~ ^[A-Za-z0-9/._+-]+$ ]] || die "--root: use a plain path (no spaces), not /"
LOGDIR=$(mktemp -d /tmp/kiln-fresh-log.XXXXXX)
say "root $ROOT, logs $LOGDIR"

# ---------------------------------------------------------------------------------------
# Inside the root

# IN_ROOT CMD...: CMD chrooted into the root with a clean root-login environment (an array,
# so that `timeout` can run it too).
IN_ROOT=(chroot "$ROOT" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash
	PATH="$CHROOT_PATH")
in_root() { "${IN_ROOT[@]}" "$@"; }

# mount_system: /proc, /sys, /dev, /dev/pts, /dev/shm (the host's, recursively) and a
# fresh /run, as a booted system has them.
mount_system() {
	# The root itself a mount point, as / is on a booted system: without it, anything in
	# the chroot that remounts / (a test's mount(NULL, "/", MS_REC|MS_PRIVATE) before it
	# builds a private /dev) fails with EINVAL, which a real machine never does.
	mount --bind "$ROOT" "$ROOT"
	mount -t proc -o nosuid,nodev,noexec proc "$ROOT/proc"
	mount --rbind /sys "$ROOT/sys"
	mount --rbind /dev "$ROOT/dev"
	mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$ROOT/run"
	mkdir -m 1777 "$ROOT/run/lock"
	if ! mountpoint -q "$ROOT/dev/shm"; then
		mkdir -p "$ROOT/dev/shm"
		mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$ROOT/dev/shm"
	fi
}

# configure_network: the host's resolver and the host's Debian mirror, as the installer
# would have set them up.
configure_network() {
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
	cat >"$ROOT/etc/apt/sources.list" <<-EOF
		deb $MIRROR $SUITE main
		deb $MIRROR $SUITE-updates main
		deb $SECURITY $SUITE-security main
	EOF
}

# build_root: debootstrap minbase, then `apt-get install git` inside it.
build_root() {
	step "debootstrap --variant=minbase $SUITE" --log "$LOGDIR/debootstrap.log" \
		debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" || die "debootstrap failed"
	configure_network
	mount_system
	step "apt-get install git (in the root)" --log "$LOGDIR/git.log" \
		"${IN_ROOT[@]}" DEBIAN_FRONTEND=noninteractive bash -c \
		'apt-get update && apt-get install -y git && apt-get clean' || die "installing git failed"
	unmount_all || die "cannot unmount the root's file systems"
}

TARBALL=
[[ -n $CACHE ]] && TARBALL=$(readlink -f "$CACHE")/$SUITE-minbase-git.tar
if [[ -n $TARBALL && -s $TARBALL && -n $(find "$TARBALL" -mtime -"$CACHE_MAX_DAYS") ]]; then
	step "unpacking cached root $TARBALL" \
		tar -xpf "$TARBALL" -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' ||
		die "unpacking $TARBALL failed"
else
	[[ -n $TARBALL && -e $TARBALL ]] && say "cached root $TARBALL is older than $CACHE_MAX_DAYS days: rebuilding it"
	build_root
	if [[ -n $TARBALL ]]; then
		mkdir -p "${TARBALL%/*}"
		step "caching the root as $TARBALL" \
			tar -cf "$TARBALL.tmp.$$" -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' . ||
			die "writing $TARBALL failed"
		mv -f "$TARBALL.tmp.$$" "$TARBALL"
	fi
fi

configure_network
mount_system
if [[ -n $SRC_BIND ]]; then
	mkdir -p "$ROOT$SRC_IN_ROOT"
	mount --bind -o ro "$SRC_BIND" "$ROOT$SRC_IN_ROOT"
fi

step "git clone $CLONE_FROM $CLONE_IN_ROOT (in the root)" --log "$LOGDIR/clone.log" \
	"${IN_ROOT[@]}" git clone --no-local "$CLONE_FROM" "$CLONE_IN_ROOT" || die "git clone failed"
if [[ -n $HEAD_SHA ]]; then
	cloned=$(in_root git -C "$CLONE_IN_ROOT" rev-parse HEAD)
	# They differ when the repository got a new commit since this run started, or for a
	# worktree whose HEAD is not the main one's: test the HEAD printed at the start.
	if [[ $cloned != "$HEAD_SHA" ]]; then
		say "checking out ${HEAD_SHA:0:7}, the repository's HEAD when this run started (the clone's is ${cloned:0:7})"
		in_root git -C "$CLONE_IN_ROOT" checkout -q --detach "$HEAD_SHA" || die "checkout failed"
	fi
fi
say "cloned $(in_root git -C "$CLONE_IN_ROOT" log -1 --format='%h %s')"

rc=0
# shellcheck disable=SC2016  # "$0" and "$@" are the inner bash's
step "running in the root: ${CMD[*]}" \
	"${IN_ROOT[@]}" CI=true bash -c 'cd "$0" && exec "$@"' "$CLONE_IN_ROOT" "${CMD[@]}" </dev/null || rc=$?
STATUS_NOTE="of: ${CMD[*]}"
exit "$rc"
