#!/bin/bash
# The benchmark proper; runs where /dev/kvm works (inside L1 via tests/harness/kvm-run).
#   bench/inner.sh --kiln PATH --out DIR --rounds N [--quick] [--only "GROUP..."]
# Groups: boot (boot, PVH boot, tiny), strace, mem, snap (kiln's snapshots: restore vs cold
# boot, clones), fio, net, fs (round trips and host files); all by default; and curves
# (boot time and memory as vCPUs and RAM grow; N VMs started at once, bench/many.py),
# which only --only names.
# Everything runs in a private network namespace (taps, link-local 169.254.80.0/24).
# kiln and QEMU alternate within each round (the order flips every round). Raw figures go to
# DIR/raw.tsv; bench/report.py turns them into the table (stdout) and DIR/summary.tsv.
set -euo pipefail
if [[ -z ${KILN_BENCH_NETNS:-} ]]; then
	exec unshare --net env KILN_BENCH_NETNS=1 bash "$0" "$@"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../tests/harness/guest-signatures.sh"
KILN= OUT= ROUNDS=3 QUICK=0 ONLY=
while (($#)); do
	case $1 in
	--kiln) KILN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--only) ONLY=$2; shift 2 ;;
	*) echo "inner.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
: "${KILN_GUEST_DIR:?}"
G=$KILN_GUEST_DIR
CPUS=${KILN_BENCH_CPUS:-1}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
RAW=$OUT/raw.tsv
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
# Images are read from a local copy: under kvm-run the guest cache is on 9p, whose reads
# would be part of every VMM's start-up time (and L1's /tmp is in RAM, like a warm page
# cache on a real host). The same files for both VMMs: Debian's generic kernel as the
# distribution ships it (bzImage) and as the uncompressed ELF with its PVH entry note.
mkdir -p "$WORK/img"
# kiln's decompressed-kernel cache (docs/boot.md) in L1's RAM too ($HOME is read-only
# there): the first kiln boot of the bzImage fills it, the rounds after read it.
export KILN_KERNEL_CACHE=$WORK/kernels
cp "$G/generic/vmlinuz" "$G/generic/vmlinux" "$G/bench-boot-initramfs.cpio.gz" \
	"$G/bench-initramfs.cpio.gz" "$WORK/img/"
# A guest of a few bytes that prints a line and pulls the reset line: what is left of
# "boot" is the VMM's own start-up and tear-down.
"$PY" "$HERE/../tests/integration/mkguest.py" hello-reset "$WORK/img/tiny.elf"
TINY=$WORK/img/tiny.elf
BZIMAGE=$WORK/img/vmlinuz
VMLINUX=$WORK/img/vmlinux
INITRD_BOOT=$WORK/img/bench-boot-initramfs.cpio.gz
INITRD_TOOLS=$WORK/img/bench-initramfs.cpio.gz
mkdir -p "$OUT"
: >"$RAW"
FAILS=0
FLAKY=() # VM runs that passed on their repeat (run_vm)
# A session retried in a fresh L1 (tests/harness/kvm-run: the earlier one was lost) goes on
# after the groups the earlier one finished: each finished group leaves the figures so far
# and a state file (how many of those rows count, the failed-run count, the repeats, the
# groups done) in $KILN_IO_DIR/carry, which kvm-run hands on. The state file is replaced
# in one rename after the rows are written, so an L1 lost in between leaves the last
# group's state whole, and its rows beyond the count are dropped.
CARRY=${KILN_IO_DIR:+$KILN_IO_DIR/carry}
DONE=""
if [[ -n $CARRY && -s $CARRY/state ]]; then
	if { read -r rows && read -r FAILS && read -r -a FLAKY && read -r DONE; } <"$CARRY/state" &&
		[[ $rows =~ ^[0-9]+$ && $FAILS =~ ^[0-9]+$ ]] && head -n "$rows" "$CARRY/raw.tsv" >"$RAW"; then
		echo "bench: a fresh L1 after a lost one: going on after the groups already done ($DONE)" >&2
	else
		echo "bench: a fresh L1 after a lost one, but the kept state is unreadable: starting over" >&2
		DONE="" FAILS=0 FLAKY=()
		: >"$RAW"
	fi
fi
# group_done NAME: NAME's figures are in; a retried session skips it. Best effort: a share
# that cannot be written costs the resume, not the benchmark.
group_done() {
	[[ -n $CARRY ]] || return 0
	{
		mkdir -p "$CARRY" &&
			cp "$RAW" "$CARRY/raw.tsv.new" && mv "$CARRY/raw.tsv.new" "$CARRY/raw.tsv" &&
			printf '%s\n%s\n%s\n%s\n' "$(wc -l <"$RAW")" "$FAILS" "${FLAKY[*]}" "${DONE:+$DONE }$1" \
				>"$CARRY/state.new" && mv "$CARRY/state.new" "$CARRY/state" && DONE="${DONE:+$DONE }$1"
	} 2>/dev/null || echo "bench: could not keep group $1's figures for a retried session" >&2
}
# RT: seconds per fio job and per iperf3 direction. SROUNDS: rounds under strace (one
# boot under strace takes ~1 min in nested KVM; the counts hardly vary).
# --quick (CI) fills every row of the table once (issue 15: "CI's quick mode must run
# every row"), with shorter fio jobs and iperf3 runs and the smallest and largest RAM.
if ((QUICK)); then
	RT=2 MEMS=(128 2048) XROUNDS=1 SROUNDS=1 STRACE_VMMS="kiln qemu"
	SNAP_MEMS="128 2048" SNAP_CLONES=2
else
	RT=${KILN_BENCH_RT:-5} MEMS=(128 2048) XROUNDS=$((ROUNDS < 3 ? ROUNDS : 3))
	SROUNDS=${KILN_BENCH_STRACE_ROUNDS:-1} STRACE_VMMS="kiln qemu"
	SNAP_MEMS="128 512 2048" SNAP_CLONES=4
fi

note() { printf 'bench: %s\n' "$*" >&2; [[ -n ${KILN_IO_DIR:-} ]] && printf 'bench: %s\n' "$*" >"$KILN_IO_DIR/current" 2>/dev/null || true; }

cmdline() { echo "console=ttyS0 quiet panic=-1 kiln.scenario=$1${2:+ $2}"; }

# vm_cmd VMM KERNEL SCENARIO MEM_MIB INITRD EXTRA_CMDLINE DEVICES(disk|net|none): sets CMD
vm_cmd() {
	local vmm=$1 kernel=$2 sc=$3 mem=$4 initrd=$5 extra=$6 dev=$7
	if [[ $vmm == kiln ]]; then
		CMD=("$KILN" run --kernel "$kernel" ${initrd:+--initrd "$initrd"} --cmdline "$(cmdline "$sc" "$extra")"
			--cpus "$CPUS" --memory "${mem}M" -v)
		[[ $dev == disk ]] && CMD+=(--disk path=/dev/ram0)
		[[ $dev == diskfile ]] && CMD+=(--disk "path=$DISKFILE")
		[[ $dev == diskmq ]] && CMD+=(--disk path=/dev/ram0,queues=2)
		[[ $dev == net ]] && CMD+=(--net tap=bt0,mac=52:54:00:12:34:56)
		[[ $dev == netvhost ]] && CMD+=(--net tap=bt0,mac=52:54:00:12:34:56,vhost=on)
		# vhost=on with 2 vCPUs: 2 queue pairs (one per vCPU, kiln's default)
		[[ $dev == netmq ]] && CMD+=(--net tap=bt0,mac=52:54:00:12:34:56,vhost=on)
		[[ $dev == fs ]] && CMD+=(--fs "path=$FSDIR/src,tag=src,readonly=on" --fs "path=$FSDIR/rw,tag=rw")
		# The read-only share with a 256 MiB DAX window (the largest), mounted dax=always.
		[[ $dev == fsdax ]] && CMD+=(--fs "path=$FSDIR/src,tag=src,readonly=on,dax_mib=256" --fs "path=$FSDIR/rw,tag=rw")
		[[ $dev == fsroot ]] && CMD+=(--fs path=/,tag=root,readonly=on)
	else
		CMD=(qemu-system-x86_64 -accel kvm -M pc -nodefaults -no-user-config -nographic -no-reboot
			-serial stdio -cpu host -smp "$CPUS" -m "$mem" -kernel "$kernel" ${initrd:+-initrd "$initrd"}
			-append "$(cmdline "$sc" "$extra")")
		[[ $dev == disk ]] && CMD+=(-drive if=none,id=d0,file=/dev/ram0,format=raw,cache=none,aio=io_uring
			-device virtio-blk-pci,drive=d0,disable-legacy=on)
		[[ $dev == diskfile ]] && CMD+=(-drive "if=none,id=d0,file=$DISKFILE,format=raw,cache=none,aio=io_uring"
			-device virtio-blk-pci,drive=d0,disable-legacy=on)
		[[ $dev == diskmq ]] && CMD+=(-drive if=none,id=d0,file=/dev/ram0,format=raw,cache=none,aio=io_uring
			-device virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=2)
		[[ $dev == net ]] && CMD+=(-netdev tap,id=n0,ifname=bt0,script=no,downscript=no,vhost=off
			-device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:12:34:56)
		[[ $dev == netvhost ]] && CMD+=(-netdev tap,id=n0,ifname=bt0,script=no,downscript=no,vhost=on
			-device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:12:34:56)
		[[ $dev == netmq ]] && CMD+=(-netdev tap,id=n0,ifname=bt0,script=no,downscript=no,vhost=on,queues=2
			-device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:12:34:56,mq=on,vectors=6)
		[[ $dev == fs ]] && CMD+=(-virtfs "local,path=$FSDIR/src,mount_tag=src,security_model=none,readonly=on"
			-virtfs "local,path=$FSDIR/rw,mount_tag=rw,security_model=none")
		[[ $dev == fsroot ]] && CMD+=(-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap)
	fi
	return 0
}

# run_vm PHASE ROUND VMM TIMEOUT [vmm.py options] -- : runs CMD through vmm.py (or
# $RUNNER: many.py starts N copies of CMD at once), appends raw rows.
# A run that fails (VMM or guest status not 0, or timed out) is reported with its log tail.
# It is repeated (at most twice) only when the guest died in a triple fault or hung, or the
# guest kernel faulted where only the environment reaches: the failures
# the nested environment causes under either VMM (docs/testing.md, "The early triple
# fault"). A pass on a repeat is named in the FLAKY list that run.sh puts on the
# closing line; any other failure counts at once.
run_vm() {
	local phase=$1 round=$2 vmm=$3 to=$4 res log attempt sig
	shift 4
	# The run is on record before it starts: one that leaves no result at all
	# (vmm.py killed, the session lost) still counts as a failed VM run.
	printf '%s\t%s\t%s\tplanned\t1\n' "$phase" "$round" "$vmm" >>"$RAW"
	for attempt in 1 2 3; do
		log=$WORK/$phase-$round-$vmm-$attempt.log
		# Every network run gets a server of its own: one whose client vanished
		# mid-test (a guest that hung and was ended) stays "busy running a test",
		# and CI of 2026-12-06 lost the runs after such a hang to it.
		[[ $phase == net* ]] && iperf_server
		note "$phase round $round: $vmm$([[ $attempt == 1 ]] || echo ' (repeat)')"
		# vmm.py ends its VMM at the bound; the outer timeout is for a vmm.py
		# that cannot (a VMM process SIGKILL does not end: docs/testing.md).
		res=$(timeout -k 5 $((to + 30)) "$PY" "$HERE/${RUNNER:-vmm.py}" --timeout "$to" --log "$log" "$@" -- "${CMD[@]}") || true
		if grep -q '^rc 0$' <<<"$res" && grep -q '^guest_rc 0$' <<<"$res"; then
			((attempt == 1)) || FLAKY+=("$phase-$round-$vmm")
			# A pass after the guest retried inside the run (KILN-NOTE) is
			# named on the closing line too.
			grep -q '^guest_note ' <<<"$res" && FLAKY+=("$phase-$round-$vmm-guest-retried")
			break
		fi
		echo "bench: $phase round $round $vmm FAILED (attempt $attempt):" >&2
		printf '%s\n' "$res" | sed 's/^/  /' >&2
		tail -n 15 "$log" | sed 's/^/  | /' >&2
		# The environment's signatures (docs/testing.md, "The early triple fault"),
		# as tests/integration/run.sh reads them: a triple fault kiln reports, at
		# any point of the run (CI of 2026-12-04 lost a kiln fs run that way after
		# its workload had printed its figures), or a hang to the run's bound; and
		# QEMU ending with status 0 but no guest result, which is how -no-reboot
		# ends it on the same reset. Any other failure counts at once, except the
		# guest kernel faulting on the first instruction of its own syscall entry
		# or on its CPU entry area, and a run that left no result at all (below).
		if ((attempt < 3)) && [[ -n $res ]] && { grep -aq 'triple fault (KVM_EXIT_SHUTDOWN)' "$log" ||
			grep -q '^rc timeout$' <<<"$res" ||
			{ [[ $vmm == qemu ]] && grep -q '^rc 0$' <<<"$res" && ! grep -q '^guest_rc ' <<<"$res"; }; }; then
			echo "bench: a guest triple fault or hang (the environment's, docs/testing.md): repeating" >&2
			continue
		fi
		if [[ -z $res ]]; then
			echo "bench: vmm.py did not come back within the run's bound + 30 s: its VMM did not end on SIGKILL (the environment's, docs/testing.md)" >&2
			# In L1 that process stays, and every VMM after it hung too (CI of
			# 2026-12-03: three in a row, then the session's bound): ask kvm-run
			# for a fresh L1 and end this session (its retry goes on from the
			# group this run was in, group_done, and shows on the tally).
			if [[ -n ${KILN_IO_DIR:-} ]] &&
				echo "a VMM that SIGKILL did not end: $phase round $round $vmm" >"$KILN_IO_DIR/fresh-l1"; then
				echo "bench: asking for a fresh L1" >&2
				exit 75
			fi
			((attempt < 3)) && { echo "bench: repeating" >&2; continue; }
		fi
		if ((attempt < 3)) && sig=$(guest_kernel_fault "$log"); then
			echo "bench: the guest kernel's $sig (the environment's, docs/testing.md): repeating" >&2
			continue
		fi
		FAILS=$((FAILS + 1))
		break
	done
	printf '%s\n' "$res" | awk -v p="$phase" -v r="$round" -v v="$vmm" 'NF { k = $1; $1 = ""; sub(/^ /, ""); print p "\t" r "\t" v "\t" k "\t" $0 }' >>"$RAW"
}

want() { [[ (-z $ONLY || " $ONLY " == *" $1 "*) && " $DONE " != *" $1 "* ]]; }

order() { if (($1 % 2)); then echo kiln qemu; else echo qemu kiln; fi; }

ip link set lo up
# The disks: a RAM block device in L1 (L1's /tmp is tmpfs, which refuses O_DIRECT), and
# a raw image file on ext4 on a second one (the fio group's "raw file" rows).
modprobe -d "$G/generic/modules" brd rd_nr=2 rd_size=$((512 * 1024)) max_part=0 2>/dev/null ||
	modprobe brd rd_nr=2 rd_size=$((512 * 1024)) max_part=0
[[ -b /dev/ram0 && -b /dev/ram1 ]] || { echo "bench: no /dev/ram0 and ram1 (brd)" >&2; exit 1; }
dd if=/dev/zero of=/dev/ram0 bs=1M count=512 oflag=direct status=none
DISKFILE=
if want fio; then
	{ modprobe -d "$G/generic/modules" -a crc32c_generic ext4 2>/dev/null ||
		modprobe -a crc32c_generic ext4 2>/dev/null || true; }
	mkfs.ext4 -q -F /dev/ram1 && mkdir -p "$WORK/ext4" && mount /dev/ram1 "$WORK/ext4" &&
		dd if=/dev/zero of="$WORK/ext4/disk.img" bs=1M count=384 oflag=direct status=none &&
		DISKFILE=$WORK/ext4/disk.img || echo "bench: no ext4 on /dev/ram1: the raw-file rows stay empty" >&2
fi
IPERF_PID=
# iperf_server: end the previous iperf3 server (if any) and start a fresh one, ready once
# it listens on its port (5201).
iperf_server() {
	if [[ -n $IPERF_PID ]]; then
		kill "$IPERF_PID" 2>/dev/null || true
		wait "$IPERF_PID" 2>/dev/null || true
	fi
	iperf3 -s >>"$WORK/iperf3-server.log" 2>&1 &
	IPERF_PID=$!
	for _ in $(seq 50); do
		ss -Htln 'sport = :5201' | grep -q . && return 0
		sleep 0.1
	done
	echo "bench: the iperf3 server did not listen on port 5201 within 5 s" >&2
}
# (Each step may fail, e.g. no ext4 mounted without the fio group: under set -e a
# failing step in the trap would become the script's status.)
trap '[[ -z $IPERF_PID ]] || kill $IPERF_PID 2>/dev/null || true; umount "$WORK/ext4" 2>/dev/null || true; rm -rf "$WORK"' EXIT
NETUP='ip link show bt0 && ip addr replace 169.254.80.1/24 dev bt0 && ip link set bt0 up'

# kiln's first boot of a kernel decompresses it into the cache (docs/boot.md), once per
# kernel: timed apart (phase bootfirst, its own line in the report), so that every round's
# boot row is the boot a user of that kernel has from then on.
want boot && {
	vm_cmd kiln "$BZIMAGE" boot 256 "$INITRD_BOOT" "" none
	run_vm bootfirst 1 kiln 180
}
# A session going on after a lost one (above) has an empty cache here: one untimed boot
# fills it, as the boot group did in the session that was lost.
if [[ " $DONE " == *" boot "* ]]; then
	note "warm-up boot (the kernel cache)"
	vm_cmd kiln "$BZIMAGE" boot 256 "$INITRD_BOOT" "" none
	timeout -k 5 120 "${CMD[@]}" </dev/null >"$WORK/warm-up.log" 2>&1 || true
fi
want boot && for ((r = 1; r <= ROUNDS; r++)); do
	for v in $(order "$r"); do
		vm_cmd "$v" "$BZIMAGE" boot 256 "$INITRD_BOOT" "" none
		run_vm boot "$r" "$v" 120
		vm_cmd "$v" "$VMLINUX" boot 256 "$INITRD_BOOT" "" none
		run_vm bootpvh "$r" "$v" 120
		vm_cmd "$v" "$TINY" tiny 16 "" "" none
		run_vm tiny "$r" "$v" 60
	done
done
want boot && group_done boot
want strace && for ((r = 1; r <= SROUNDS; r++)); do
	for v in $(order "$r"); do
		[[ " $STRACE_VMMS " == *" $v "* ]] || continue
		vm_cmd "$v" "$BZIMAGE" boot 256 "$INITRD_BOOT" "" none
		run_vm strace "$r" "$v" 300 --strace "$WORK/strace.out"
	done
done
want strace && group_done strace
# Memory: a second VM of the same VMM idles beside the measured one, as on a host
# that runs many: what both map from the same files (the VMM's text, its libraries)
# is then shared, and the private memory measured is what one more VM costs.
want mem && for m in "${MEMS[@]}"; do
	for ((r = 1; r <= XROUNDS; r++)); do
		for v in $(order "$r"); do
			# (It idles longer than the measured run and its repeat can take;
			# it is ended below.)
			vm_cmd "$v" "$BZIMAGE" idle "$m" "$INITRD_BOOT" "bench.idle=600" none
			timeout -k 5 660 "${CMD[@]}" </dev/null >"$WORK/mem$m-$r-$v-companion.log" 2>&1 &
			companion=$!
			vm_cmd "$v" "$BZIMAGE" idle "$m" "$INITRD_BOOT" "bench.idle=5" none
			run_vm "mem$m" "$r" "$v" 150 --mem-mib "$m" --idle-settle 2
			kill "$companion" 2>/dev/null || true
			wait "$companion" 2>/dev/null || true
		done
	done
done
want mem && group_done mem
# Cost curves (issue 15), only when named (--only curves): boot to the guest's marker and
# memory beside guest RAM as vCPUs grow (256 MiB) and as RAM grows (1 vCPU), kiln and QEMU
# alike, the PVH kernel for both; and N VMs started at once (128 MiB, 1 vCPU each: until
# the last is up, their RSS and Pss summed); bench/plot.py draws them.
CURVE_CPUS=${KILN_BENCH_CURVE_CPUS-"1 2 4 8 16"} CURVE_MEMS=${KILN_BENCH_CURVE_MEMS-"128 512 2048 4096 8192"}
CURVE_VMS=${KILN_BENCH_CURVE_VMS-"1 2 4 8 16"}
# The 8 GiB point is more than L1's own RAM (6 GiB): an idle guest touches a fraction of
# it, and kiln maps guest RAM MAP_NORESERVE, but QEMU's plain mapping would be refused by
# the kernel's heuristic overcommit check. L1 is this run's own: let both map it.
# (Only when named: want_named, not want.)
want_named() { [[ " $ONLY " == *" $1 "* ]] && want "$1"; }
want_named curves && { sysctl -qw vm.overcommit_memory=1 || true; }
want_named curves && for ((r = 1; r <= XROUNDS; r++)); do
	for n in $CURVE_CPUS; do
		for v in $(order "$r"); do
			CPUS=$n vm_cmd "$v" "$VMLINUX" idle 256 "$INITRD_BOOT" "bench.idle=3" none
			run_vm "cpus$n" "$r" "$v" 240 --mem-mib 256 --idle-settle 1
		done
	done
	for m in $CURVE_MEMS; do
		for v in $(order "$r"); do
			vm_cmd "$v" "$VMLINUX" idle "$m" "$INITRD_BOOT" "bench.idle=3" none
			run_vm "ram$m" "$r" "$v" 240 --mem-mib "$m" --idle-settle 1
		done
	done
	# The guests idle until many.py has measured them all, then it kills them.
	for n in $CURVE_VMS; do
		for v in $(order "$r"); do
			CPUS=1 vm_cmd "$v" "$VMLINUX" idle 128 "$INITRD_BOOT" "bench.idle=3600" none
			RUNNER=many.py run_vm "vms$n" "$r" "$v" $((120 + 30 * n)) --n "$n" --idle-settle 1
		done
	done
done
want_named curves && group_done curves
# Snapshots, kiln alone (bench/snap.py): restore against a cold boot to the same point, as
# RAM grows; N clones' memory against N cold-booted guests' (the first round only).
want snap && for ((r = 1; r <= XROUNDS; r++)); do
	note "snap round $r"
	clones=()
	((r == 1)) && clones=(--clones "$SNAP_CLONES" --clone-mem 128)
	mkdir -p "$WORK/snap"
	timeout 1500 "$PY" "$HERE/snap.py" --kiln "$KILN" --kernel "$BZIMAGE" --initrd "$INITRD_BOOT" \
		--work "$WORK/snap" --round "$r" --mems "$SNAP_MEMS" "${clones[@]}" >>"$RAW" ||
		{ echo "bench: snap.py failed in round $r" >&2; FAILS=$((FAILS + 1)); }
	rm -rf "$WORK/snap"
done
want snap && group_done snap
want fio && for ((r = 1; r <= ROUNDS; r++)); do
	for v in $(order "$r"); do
		vm_cmd "$v" "$BZIMAGE" fio 512 "$INITRD_TOOLS" "bench.rt=$RT" disk
		run_vm fio "$r" "$v" $((6 * RT + 120))
	done
	[[ -n $DISKFILE ]] || continue
	for v in $(order "$r"); do
		vm_cmd "$v" "$BZIMAGE" fio 512 "$INITRD_TOOLS" "bench.rt=$RT" diskfile
		run_vm fiofile "$r" "$v" $((6 * RT + 120))
	done
done
want fio && group_done fio
# Multi-queue: 2 vCPUs, a disk with 2 queues, each depth-32 job run by 2 fio jobs (one
# per vCPU, so both queues carry requests).
want fiomq && for ((r = 1; r <= ROUNDS; r++)); do
	for v in $(order "$r"); do
		CPUS=2 vm_cmd "$v" "$BZIMAGE" fio 512 "$INITRD_TOOLS" "bench.rt=$RT bench.jobs=2" diskmq
		run_vm fiomq "$r" "$v" $((4 * RT + 120))
	done
done
want fiomq && group_done fiomq
want net && for ((r = 1; r <= ROUNDS; r++)); do
	for v in $(order "$r"); do
		vm_cmd "$v" "$BZIMAGE" iperf3 512 "$INITRD_TOOLS" "bench.rt=$RT" net
		run_vm net "$r" "$v" $((2 * RT + 120)) --netup "$NETUP"
	done
	# Both with the kernel's vhost-net datapath (kiln's vhost=on, QEMU's vhost=on).
	[[ -c /dev/vhost-net ]] || modprobe -d "$G/generic/modules" vhost_net 2>/dev/null ||
		modprobe vhost_net 2>/dev/null || true
	[[ -c /dev/vhost-net ]] || { echo "bench: no /dev/vhost-net: the vhost rows stay empty" >&2; FAILS=$((FAILS + 1)); continue; }
	for v in $(order "$r"); do
		vm_cmd "$v" "$BZIMAGE" iperf3 512 "$INITRD_TOOLS" "bench.rt=$RT" netvhost
		run_vm netvhost "$r" "$v" $((2 * RT + 120)) --netup "$NETUP"
	done
	# Multi-queue: 2 vCPUs, 2 queue pairs with vhost, 4 iperf3 streams.
	for v in $(order "$r"); do
		CPUS=2 vm_cmd "$v" "$BZIMAGE" iperf3 512 "$INITRD_TOOLS" "bench.rt=$RT bench.streams=4" netmq
		run_vm netmq "$r" "$v" $((2 * RT + 120)) --netup "$NETUP"
	done
done
want net && group_done net

# File systems on the host's files: kiln's virtio-fs against QEMU's 9p (docs/performance.md
# "Host files"). The shared tree (headers: ~1,300 entries, ~470 with --quick: 9p's untar
# under nested KVM takes minutes), its tarball and a 100 MiB file live in L1's RAM (/tmp),
# copied once; the round trip's root is L1's own / (as CI tools share the host's).
FSDIR=$WORK/fs
TREE_DIRS="linux asm-generic x86_64-linux-gnu"
((QUICK)) && TREE_DIRS="asm-generic x86_64-linux-gnu"
want fs && {
mkdir -p "$FSDIR/src/tree" "$FSDIR/rw"
for d in $TREE_DIRS; do
	[[ -d /usr/include/$d ]] && cp -a "/usr/include/$d" "$FSDIR/src/tree/"
done
tar -cf "$FSDIR/src/tree.tar" -C "$FSDIR/src" tree
head -c 100M /dev/urandom >"$FSDIR/src/big.bin"
# kiln exec's modules: a local copy of what its initramfs takes (the cache is on 9p).
kver=$(<"$G/generic/version")
MODS=$WORK/modules/$kver
mkdir -p "$MODS/kernel/drivers" "$MODS/kernel/fs"
cp "$G/generic/modules/lib/modules/$kver"/modules.* "$MODS/"
for d in drivers/virtio drivers/char drivers/misc/pvpanic fs/fuse fs/overlayfs; do
	mkdir -p "$MODS/kernel/${d%/*}"
	cp -a "$G/generic/modules/lib/modules/$kver/kernel/$d" "$MODS/kernel/$d"
done
# kiln exec keeps its guest once up (docs/exec.md, "Warm start"): its round trip is timed
# from that cache (filled here, untimed, as a user's first run fills it), and booting
# (KILN_EXEC_CACHE=off) as a row of its own.
EXEC_CACHE=$WORK/exec-cache
exec_cmd() { # CACHE
	CMD=(env KILN_EXEC_CACHE="$1" sh -c '"$0" exec --kernel "$1" --modules "$2" --cpus 1 --memory 256M -- true &&
		echo "KILN-RESULT rc=0"' "$KILN" "$BZIMAGE" "$MODS")
}
exec_cmd "$EXEC_CACHE"
run_vm rtfill 1 kiln 180
for ((r = 1; r <= ROUNDS; r++)); do
	for v in $(order "$r"); do
		fs=virtiofs
		[[ $v == qemu ]] && fs=9p
		vm_cmd "$v" "$BZIMAGE" fsroot 256 "$INITRD_BOOT" "bench.fs=$fs" fsroot
		run_vm rt "$r" "$v" 180
		if [[ $v == kiln ]]; then
			exec_cmd "$EXEC_CACHE"
			run_vm rtwarm "$r" kiln 180
			exec_cmd off
			run_vm rtexec "$r" kiln 180
		fi
		rm -rf "${FSDIR:?}/rw/"*
		vm_cmd "$v" "$BZIMAGE" fs 512 "$INITRD_TOOLS" "bench.fs=$fs bench.rt=$RT" fs
		run_vm fs "$r" "$v" $((RT + 290))
		# kiln again with a DAX window on the read-only share (docs/virtio-fs.md,
		# "DAX"): the reads' rows against QEMU's 9p of the same round.
		if [[ $v == kiln ]]; then
			rm -rf "${FSDIR:?}/rw/"*
			vm_cmd kiln "$BZIMAGE" fs 512 "$INITRD_TOOLS" "bench.fs=$fs bench.dax=1 bench.rt=$RT" fsdax
			run_vm fsdax "$r" kiln $((RT + 290))
		fi
	done
done
}
want fs && group_done fs
note "report"
"$PY" "$HERE/report.py" "$RAW" "$OUT/summary.tsv"
# The caller (run.sh) may be outside this VM: hand the raw figures back on stdout.
echo "KILN-BENCH-RAW-BEGIN"
cat "$RAW"
echo "KILN-BENCH-RAW-END"
((${#FLAKY[@]} == 0)) || echo "KILN-BENCH-FLAKY ${FLAKY[*]}"
((FAILS == 0)) || { echo "bench: $FAILS VM run(s) failed" >&2; exit 1; }
