#!/bin/bash
# timeout: 480
# seccomp (docs/security.md "seccomp"), with --seccomp on:
#  A. while a guest with every kind of device runs, every kiln thread (main,
#     each vCPU, the disk's block worker and the share's virtio-fs worker,
#     /proc/PID/task/*/status) is under a
#     filter ("Seccomp: 2"), the guest keeps running, and vm.stop over the API
#     ends kiln with 0;
#  B. build/kiln-test-hooks (the test hook, tests/hooks/seccomp_hook.c) makes one
#     thread of each kind call execve right after its filter is in
#     (KILN_TEST_FORBIDDEN_SYSCALL=vcpu|loop|blk|fs): kiln dies with 159 (128 + SIGSYS)
#     and the message names the thread and the syscall;
#  C. with --seccomp off the same hook's execve fails harmlessly and the guest
#     runs on (so B's deaths are the filter's doing); with --seccomp log too,
#     and the kernel logs it (audit type 1326 in dmesg, naming kiln's pid).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
hooks=$(dirname "${KILN_BIN:-$KILN}")/kiln-test-hooks
[[ -x $hooks ]] || fail "no $hooks (meson builds it next to kiln)"
truncate -s 8M a.img
mkdir -p share
guest=(--kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz"
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=ticks" --cpus 2 --memory 256M
	--disk path=a.img --fs path=share,tag=share --console file=hvc.txt --rng)

# wait_ticks LOG N PID: until the guest printed tick N (or kiln died / 180 s).
wait_ticks() {
	for _ in $(seq 1800); do
		grep -aq "KILN-TICK $2\b" "$1" && return 0
		kill -0 "$3" 2>/dev/null || { show_tail "$1"; fail "kiln exited before the guest ticked $2 times"; }
		sleep 0.1
	done
	show_tail "$1"
	fail "the guest did not tick $2 times in 180 s"
}

# stop_kiln SOCK PID LOG: vm.stop, then kiln must exit 0 within 30 s.
stop_kiln() {
	"$KILN" ctl --socket "$1" --timeout 30 vm.stop >/dev/null || { show_tail "$3"; fail "vm.stop failed"; }
	local rc=0
	# Bounded, with a report of where kiln's threads are when it does not end
	# (a local run on 2026-12-04 sat here until the test's 480-s bound).
	wait_kiln "$2" 30 "$3" || rc=$?
	((rc != 124)) || fail "kiln did not exit within 30 s of vm.stop (its threads above)"
	((rc == 0)) || { show_tail "$3"; fail "kiln exited $rc after vm.stop, expected 0"; }
}

# ---- A. every thread filtered while the guest runs ----
"$KILN" run "${guest[@]}" --seccomp on --api-socket "$TMPDIR/a.sock" </dev/null >a.log 2>&1 &
pid=$!
wait_ticks a.log 3 "$pid"
nthreads=0
names=()
for status in /proc/"$pid"/task/*/status; do
	name=$(sed -n 's/^Name:[[:space:]]*//p' "$status")
	# The kernel's io_uring workers (iou-wrk-N) run no kiln code.
	[[ $name == iou-* ]] && continue
	mode=$(sed -n 's/^Seccomp:[[:space:]]*//p' "$status")
	[[ $mode == 2 ]] || fail "thread $name of kiln has Seccomp: ${mode:-<none>}, expected 2 (filter)"
	nthreads=$((nthreads + 1))
	names+=("$name")
done
((nthreads == 5)) || fail "kiln has $nthreads threads (${names[*]}), expected 5 (main, two vCPUs, the disk's block worker, the share's worker)"
[[ " ${names[*]} " == *" kiln-blk0 "* ]] || fail "no block worker kiln-blk0 among ${names[*]}"
[[ " ${names[*]} " == *" kiln-fs0 "* ]] || fail "no virtio-fs worker kiln-fs0 among ${names[*]}"
n=$(grep -ac KILN-TICK a.log)
sleep 1
(($(grep -ac KILN-TICK a.log) > n)) || fail "the guest stopped ticking under the filters"
stop_kiln "$TMPDIR/a.sock" "$pid" a.log
echo "A: $nthreads threads with Seccomp: 2; vm.stop exited 0"

# ---- B. a forbidden syscall on each kind of thread ----
for kind in vcpu loop blk fs; do
	case $kind in
	vcpu) thread='kiln-vcpu[0-9]+' ;;
	loop) thread='main' ;;
	blk) thread='kiln-blk0' ;; # as vm_start starts it, before the vCPUs
	fs) thread='kiln-fs0' ;;   # the same
	esac
	rc=0
	KILN_TEST_FORBIDDEN_SYSCALL=$kind KILN=$hooks boot_guest "b-$kind.log" "${guest[@]}" --seccomp on || rc=$?
	((rc == 159)) || { show_tail "b-$kind.log"; fail "B ($kind): kiln exited $rc, expected 159 (128 + SIGSYS)"; }
	expect_line "b-$kind.log" "^kiln: error: seccomp: thread $thread made a forbidden syscall execve \\(59\\); stopping kiln$"
	echo "B: $kind: $(tr -d '\r' <"b-$kind.log" | grep -a 'kiln: error: seccomp:')"
done

# ---- C. the same hook without the kill: off, then log ----
for mode in off log; do
	KILN_TEST_FORBIDDEN_SYSCALL=vcpu "$hooks" run "${guest[@]}" --seccomp "$mode" \
		--api-socket "$TMPDIR/c-$mode.sock" </dev/null >"c-$mode.log" 2>&1 &
	pid=$!
	wait_ticks "c-$mode.log" 3 "$pid"
	if [[ $mode == off ]]; then
		mode_seen=$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/"$pid"/status)
		[[ $mode_seen == 0 ]] || fail "--seccomp off: the main thread has Seccomp: $mode_seen"
	fi
	stop_kiln "$TMPDIR/c-$mode.sock" "$pid" "c-$mode.log"
	grep -aq 'forbidden syscall' "c-$mode.log" && fail "--seccomp $mode: kiln reported a forbidden syscall"
	echo "C: --seccomp $mode: the hook's execve did not stop kiln"
	if [[ $mode == log ]]; then
		# The positive control for "log mode records none": the kernel does
		# log this one (audit type 1326, SECCOMP_RET_LOG), so a sweep of the
		# suite in log mode that finds no such line means something.
		dmesg | grep -aE "type=1326 .* pid=$pid .*syscall=59 " >audit.txt ||
			fail "--seccomp log: the kernel logged no audit record (type=1326) of the hook's execve (pid $pid)"
		echo "C: --seccomp log: the kernel logged: $(head -n 1 audit.txt)"
	fi
done
