#!/bin/bash
# timeout: 400
# No root needed (docs/security.md "Running without root"): kiln runs as an
# ordinary user - uid 4243, no capabilities, its only extra group the one
# /dev/kvm belongs to - on files that user owns, with a tap that root made
# for that user (`ip tuntap add ... user 4243`; kiln attaches to it through
# /dev/net/tun). The guest boots, writes its disk, pings the host over the
# NIC; the user stops it over the API socket; kiln exits 0. Then the same
# with a tap root made for nobody, handed to kiln as an fd (--net fd=9:
# kiln learns the tap's name from the fd) by a root helper that opened it
# (what a manager does).
# Also: the same user cannot attach to a tap made for someone else (the
# error says why).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
cd "$TMPDIR"
uid=4243
# /dev/kvm's group: "kvm" where it exists (Debian's udev rules make the
# device root:kvm 0660); a numeric one otherwise (L1 has no such group).
kvm_gid=$(getent group kvm | cut -d: -f3 || true)
if [[ -z $kvm_gid ]]; then
	kvm_gid=4244
	chgrp "$kvm_gid" /dev/kvm
fi
[[ $(stat -c %g /dev/kvm) == "$kvm_gid" ]] || chgrp "$kvm_gid" /dev/kvm
chmod g+rw /dev/kvm
# /dev/net/tun is 0666 under udev; L1's devtmpfs makes it 0600.
chmod 0666 /dev/net/tun

# Everything the user's kiln opens is the user's (the guest images live in
# root's cache, which the user cannot read).
home=$(mktemp -d /tmp/kiln-t55.XXXXXX)
cleanup() { rm -rf "$home"; }
trap cleanup EXIT
cp "$GUEST/generic/vmlinuz" "$GUEST/initramfs-generic.cpio.gz" "${KILN_BIN:-$KILN}" "$home/"
: >"$home/a.img"
mkdir "$home/run"
chown -R "$uid:$uid" "$home"
chmod 0755 "$home"
ip tuntap add kt5 mode tap user "$uid"
ip addr add 169.254.79.1/24 dev kt5 && ip link set kt5 up
ip tuntap add kt6 mode tap user 4245 # someone else's

as_user() {
	setpriv --reuid "$uid" --regid "$uid" --groups "$kvm_gid" --inh-caps=-all \
		--bounding-set=-all -- "$@"
}

# Someone else's tap: refused with the reason. (A step line first: a full
# check of 2026-12-04 saw this test time out with none at all.)
step "someone else's tap"
rc=0
as_user "$home/kiln" run --kernel "$home/vmlinuz" --net tap=kt6 </dev/null >other.log 2>&1 &
wait_kiln $! 60 other.log || rc=$?
((rc == 1)) || { cat other.log; fail "someone else's tap: kiln exited $rc, expected 1"; }
grep -q "tap kt6: permission denied" other.log || { cat other.log; fail "someone else's tap: no reason given"; }

# tap_fd_helper TAP CMD... (a python program, run as "$PY" -c "$tap_fd_helper"
# TAP CMD...): as root, open TAP through /dev/net/tun (attached with IFF_TAP |
# IFF_NO_PI | IFF_VNET_HDR) as fd 9, then exec CMD with it, in the same
# process (so $! is kiln's pid): what a privileged manager does for an
# unprivileged kiln (--net tap=TAP,fd=9).
tap_fd_helper='
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))
os.dup2(fd, 9)
os.execvp(sys.argv[2], sys.argv[2:])
'

# boot LABEL NET_FLAG [PREFIX...]: boot the guest as the user with NET_FLAG,
# check kiln's credentials while it runs, stop it as the user, check the
# guest's disk and ping.
boot() {
	local label=$1 net=$2 rc=0 pid marker
	shift 2
	: >"$home/a.img"
	truncate -s 8M "$home/a.img"
	"$@" setpriv --reuid "$uid" --regid "$uid" --groups "$kvm_gid" --inh-caps=-all \
		--bounding-set=-all -- "$home/kiln" run --kernel "$home/vmlinuz" \
		--initrd "$home/initramfs-generic.cpio.gz" \
		--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=jail" --cpus 2 --memory 256M \
		--disk path="$home/a.img" --net "$net" --seccomp on --api-socket "$home/run/api.sock" \
		</dev/null >"$label.log" 2>&1 &
	pid=$!
	for _ in $(seq 1800); do
		grep -aq 'KILN-TICK 3\b' "$label.log" && break
		kill -0 "$pid" 2>/dev/null || { show_tail "$label.log"; fail "$label: kiln exited before the guest ticked"; }
		sleep 0.1
	done
	grep -aq 'KILN-TICK 3\b' "$label.log" || { show_tail "$label.log"; fail "$label: the guest did not tick in 180 s"; }
	field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$pid/status"; }
	[[ $(field Name) == kiln ]] || fail "$label: pid $pid is $(field Name), not kiln"
	[[ $(field Uid) == "$uid"$'\t'"$uid"$'\t'"$uid"$'\t'"$uid" ]] || fail "$label: kiln's Uid: $(field Uid)"
	[[ $(field CapEff) == 0000000000000000 && $(field CapPrm) == 0000000000000000 ]] ||
		fail "$label: kiln has capabilities: CapEff $(field CapEff) CapPrm $(field CapPrm)"
	[[ $(field Groups | tr -d ' ') == "$kvm_gid" ]] || fail "$label: kiln's groups: $(field Groups)"
	echo "$label: kiln $pid: uid $uid, groups $kvm_gid, CapEff $(field CapEff)"
	as_user "$home/kiln" ctl --socket "$home/run/api.sock" --timeout 30 vm.stop >/dev/null ||
		{ show_tail "$label.log"; fail "$label: vm.stop (as uid $uid) failed"; }
	wait_kiln "$pid" 30 "$label.log" || rc=$?
	((rc == 0)) || { show_tail "$label.log"; fail "$label: kiln exited $rc after vm.stop, expected 0"; }
	[[ ! -e $home/run/api.sock ]] || fail "$label: the API socket is left behind"
	expect_line "$label.log" '^KILN-PING ok$'
	marker=$(marker_value "$label.log" KILN-DISK-MARKER)
	[[ -n $marker && $(marker_value "$label.log" KILN-DISK-READBACK) == "$marker" ]] ||
		{ show_tail "$label.log"; fail "$label: the guest's disk read-back differs"; }
	[[ $(head -n 1 "$home/a.img" | tr -d '\0') == "KILN-JAIL-DISK $marker" ]] || fail "$label: a.img does not hold the guest's marker"
	echo "$label: guest wrote its disk, pinged the host; kiln exited 0"
}

# 1. A tap made for the user, opened by name.
step "a tap made for the user, by name"
boot by-name tap=kt5
# 2. A tap made by root for nobody in particular, handed over as an fd.
ip link del kt5
ip tuntap add kt7 mode tap
ip addr add 169.254.79.1/24 dev kt7 && ip link set kt7 up
step "a tap made by root, handed over as fd 9"
boot by-fd fd=9 "$PY" -c "$tap_fd_helper" kt7
