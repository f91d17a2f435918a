#!/bin/bash
# timeout: 400
# The built-in jail (docs/security.md "Jail"): kiln run as root with --jail
# DIR --uid 4242 --gid 4242 --cgroup (cpu.max, memory.max) --seccomp on, a
# disk, a NIC on a tap, a virtio-fs share and the API socket. While the guest runs, the jailed
# kiln (pid 1 of its PID namespace, the child of the kiln we started):
#   every thread has CapEff/CapPrm/CapBnd/CapAmb 0, Uid/Gid 4242, Seccomp 2,
#   NoNewPrivs 1; its root is DIR (same device and inode) and shows neither
#   /dev/kvm nor /etc; its mount, PID, IPC, UTS and net namespaces are not
#   ours; its rlimits are nofile 1024, nproc 8 (2 vCPUs, the disk's worker
#   and room for 3 io_uring kernel workers, the share's worker, main),
#   memlock 0;
#   it is in the cgroup with the cpu.max written.
# The guest writes and reads back its disk, pings the host over the NIC, reads
# a host file from its share and writes one there (the share's files are
# reopened through /proc/self/fd, opened before the pivot);
# vm.stop over the API ends kiln with 0, and the socket is gone after it.
# Then: --jail on a file fails naming the value.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
cd "$TMPDIR"
id=4242
jail=$TMPDIR/jail
mkdir -p "$jail" run
chmod 0755 "$jail"
chown "$id:$id" run # kiln removes its socket at exit, as uid 4242
truncate -s 8M a.img
mkdir share
echo "from the host" >share/from-host
chown "$id:$id" share
ip tuntap add kt0 mode tap
ip addr add 169.254.79.1/24 dev kt0 && ip link set kt0 up

# cgroup v2: L1 has none mounted; a host normally has it at /sys/fs/cgroup.
cg=/sys/fs/cgroup/kiln-t54-$$
if [[ ! -e /sys/fs/cgroup/cgroup.controllers ]]; then
	mount -t cgroup2 none /sys/fs/cgroup || fail "cannot mount cgroup v2"
fi
echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
cleanup() { rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT

"$KILN" run --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=jail" --cpus 2 --memory 256M \
	--disk path=a.img --net tap=kt0 --fs "path=$TMPDIR/share,tag=share" --seccomp on --api-socket "$TMPDIR/run/api.sock" \
	--jail "$jail" --uid $id --gid $id --cgroup "$cg" --cgroup-cpu-max "50000 100000" \
	--cgroup-memory-max 1G </dev/null >console.log 2>&1 &
outer=$!

# The jailed kiln: the outer kiln's child.
kid=
for _ in $(seq 100); do
	kid=$(pgrep -P "$outer" | head -n 1 || true)
	[[ -n $kid ]] && break
	kill -0 "$outer" 2>/dev/null || { show_tail console.log; fail "kiln exited at once"; }
	sleep 0.1
done
[[ -n $kid ]] || fail "the outer kiln ($outer) has no child"
wait_line console.log 'KILN-TICK 3\b' "$outer" 180

field() { sed -n "s/^$2:[[:space:]]*//p" "$1"; }
nthreads=0
for st in /proc/"$kid"/task/*/status; do
	name=$(field "$st" Name)
	# The kernel's io_uring workers (iou-wrk-N) run no kiln code; the
	# nproc limit below leaves room for them.
	[[ $name == iou-* ]] && continue
	for cap in CapEff CapPrm CapBnd CapAmb CapInh; do
		v=$(field "$st" $cap)
		[[ $v == 0000000000000000 ]] || fail "thread $name: $cap $v, expected 0000000000000000"
	done
	[[ $(field "$st" Uid) == "$id"$'\t'"$id"$'\t'"$id"$'\t'"$id" ]] || fail "thread $name: Uid $(field "$st" Uid)"
	[[ $(field "$st" Gid) == "$id"$'\t'"$id"$'\t'"$id"$'\t'"$id" ]] || fail "thread $name: Gid $(field "$st" Gid)"
	[[ -z $(field "$st" Groups) ]] || fail "thread $name: supplementary groups $(field "$st" Groups)"
	[[ $(field "$st" Seccomp) == 2 ]] || fail "thread $name: Seccomp $(field "$st" Seccomp), expected 2"
	[[ $(field "$st" NoNewPrivs) == 1 ]] || fail "thread $name: NoNewPrivs $(field "$st" NoNewPrivs)"
	nthreads=$((nthreads + 1))
done
((nthreads == 5)) || fail "jailed kiln has $nthreads threads, expected 5 (main, two vCPUs, the disk's and the share's workers)"
[[ $(field /proc/"$kid"/status NSpid) == "$kid"$'\t'1 ]] ||
	fail "kiln is not pid 1 of a new PID namespace (NSpid $(field /proc/"$kid"/status NSpid))"
root_id=$(stat -L -c %d:%i /proc/"$kid"/root)
[[ $root_id == "$(stat -c %d:%i "$jail")" ]] || fail "kiln's root $root_id is not $jail"
[[ ! -e /proc/$kid/root/dev/kvm && ! -e /proc/$kid/root/etc ]] || fail "the jail shows /dev/kvm or /etc"
echo "root: readlink /proc/$kid/root = $(readlink /proc/"$kid"/root); in it: $(cd /proc/"$kid"/root && find . -mindepth 1 | head -n 20 | tr '\n' ' ')"
for ns in mnt pid ipc uts net; do
	[[ $(readlink /proc/"$kid"/ns/$ns) != "$(readlink /proc/self/ns/$ns)" ]] || fail "kiln shares our $ns namespace"
done
limit() { awk -v n="$2" 'index($0, n) == 1 { print $(NF - 2), $(NF - 1) }' /proc/"$1"/limits; }
[[ $(limit "$kid" "Max open files") == "1024 1024" ]] || fail "nofile: $(limit "$kid" "Max open files")"
[[ $(limit "$kid" "Max processes") == "8 8" ]] || fail "nproc: $(limit "$kid" "Max processes")"
[[ $(limit "$kid" "Max locked memory") == "0 0" ]] || fail "memlock: $(limit "$kid" "Max locked memory")"
[[ $(cat /proc/"$kid"/cgroup) == "0::/${cg#/sys/fs/cgroup/}" ]] || fail "kiln's cgroup: $(cat /proc/"$kid"/cgroup)"
[[ $(cat "$cg/cpu.max") == "50000 100000" ]] || fail "cpu.max: $(cat "$cg/cpu.max")"
[[ $(cat "$cg/memory.max") == $((1 << 30)) ]] || fail "memory.max: $(cat "$cg/memory.max")"
echo "jailed kiln $kid: $nthreads threads with no capabilities, uid/gid $id, Seccomp 2, in $cg"

"$KILN" ctl --socket "$TMPDIR/run/api.sock" --timeout 30 vm.stop >/dev/null || { show_tail console.log; fail "vm.stop failed"; }
rc=0
wait_kiln "$outer" 30 console.log || rc=$?
((rc == 0)) || { show_tail console.log; fail "kiln exited $rc after vm.stop, expected 0"; }
[[ ! -e run/api.sock ]] || fail "the API socket is left behind"
expect_line console.log '^KILN-PING ok$'
marker=$(marker_value console.log KILN-DISK-MARKER)
[[ -n $marker && $(marker_value console.log KILN-DISK-READBACK) == "$marker" ]] || { show_tail console.log; fail "the guest's disk read-back differs"; }
[[ $(head -n 1 a.img | tr -d '\0') == "KILN-JAIL-DISK $marker" ]] || fail "a.img does not hold the guest's marker"
expect_line console.log '^KILN-JAIL-FS-READ from the host$'
expect_line console.log '^KILN-JAIL-FS-WRITTEN$'
[[ $(cat share/from-guest 2>&1) == "written in the jail" ]] || fail "share/from-guest: '$(cat share/from-guest 2>&1)'"
[[ $(stat -c %u share/from-guest) == "$id" ]] || fail "share/from-guest belongs to uid $(stat -c %u share/from-guest), expected $id"
echo "guest: disk written (a.img holds $marker), ping over kt0 ok, share read and written; kiln exited 0"

# A jail that is not a directory: named, before any guest runs.
rc=0
"$KILN" run --kernel "$GUEST/generic/vmlinuz" --jail "$TMPDIR/a.img" </dev/null >bad.log 2>&1 || rc=$?
((rc == 1)) || { cat bad.log; fail "--jail on a file: kiln exited $rc, expected 1"; }
grep -q -- "--jail $TMPDIR/a.img: not a directory" bad.log || { cat bad.log; fail "--jail on a file: no message naming it"; }
