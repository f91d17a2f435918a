#!/bin/bash
# concurrent-boots.sh: start N small guests at once, round after round, under kiln and/or
# QEMU, and classify how each one ended. Reproduces "guests lost to an early triple fault
# under load" (docs/testing.md). Runs where /dev/kvm works, i.e. inside L1 here:
#
#   tests/harness/kvm-run --timeout 1200 -- tests/repro/concurrent-boots.sh \
#       [--vmm kiln|qemu|both] [-n N] [-r ROUNDS] [-j PARALLEL] [--build DIR] [--timeout S]
#       [--kernel bzimage|pvh] [--qemu-machine pc|microvm] [--cmdline-extra "ARGS"]
#       [--trace] [--logdir DIR] [--no-copy]
#
#   --vmm        which VMM(s); `both` alternates kiln/QEMU first from round to round (default both)
#   -n N         guests per round (default 12); each 1 vCPU, 128 MiB, Debian's generic kernel
#                and the busybox test initramfs, scenario `info`
#   -r ROUNDS    rounds per VMM (default 3)
#   -j PARALLEL  at most this many guests running at a time (default N: all at once;
#                -j 1 boots the same N guests one after the other, without load)
#   --build DIR  kiln's build directory (default build)
#   --timeout S  bound for one guest (default 600); a guest still running then is a "hang"
#   --kernel     bzimage (generic/vmlinuz, default) or pvh (generic/vmlinux, ELF/PVH entry;
#                QEMU takes the PVH entry too)
#   --qemu-machine pc (default) or microvm
#   --cmdline-extra "ARGS"  appended to the guest command line (e.g. nokaslr)
#   --trace      record kvm:* events in L1's tracefs (record-tgid on) and, for every guest
#                that did not end "ok", print its last events (the kvm_exit with reason
#                shutdown shows the guest RIP where it died: the register dump after
#                KVM_EXIT_SHUTDOWN on SVM shows the reset state, not this)
#   --logdir DIR per-guest logs (default: a new directory under $TMPDIR or /tmp; printed).
#                Inside L1, /tmp lives in L1's RAM and is gone after the session: the
#                script prints an excerpt of every failed guest's logs for that reason.
#   --no-copy    read kernel/initrd from the guest cache (9p in L1) instead of a local copy
#
# Guest command line: "console=ttyS0 panic=-1 earlyprintk=serial kiln.scenario=info"
# (no `quiet`), so a dying guest shows how far it got (the decompressor already prints
# "early console in extract_kernel" with earlyprintk=serial).
#
# Each guest ends as one of:
#   ok      KILN-RESULT rc=0 seen and the VMM exited 0
#   early   triple fault / reset before the guest printed anything: kiln exits 1 saying
#           "triple fault"; QEMU (-no-reboot) just exits 0 with an empty console
#   late    any other failure (triple fault or reset after some output, panic, rc != 0)
#   hang    still running after --timeout (killed)
# Output: one line per failed guest (class, VMM status, seconds, last console line), then
# per round and in total per VMM, ending with
#   concurrent-boots: kiln ok A/T early B late C hang D; qemu ok ... (N=.., rounds=.., j=..)
# Exit status 0 when every guest was ok, 1 otherwise, 2 on usage errors.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

VMMS=both N=12 ROUNDS=3 PAR='' BUILD=build TMO=600 KFMT=bzimage QMACHINE=pc EXTRA='' TRACE=0
LOGDIR='' COPY=1

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}
die() {
	echo "concurrent-boots: $*" >&2
	exit 2
}

while (($#)); do
	case $1 in
	--vmm) VMMS=${2:?}; shift 2 ;;
	-n) N=${2:?}; shift 2 ;;
	-r | --rounds) ROUNDS=${2:?}; shift 2 ;;
	-j) PAR=${2:?}; shift 2 ;;
	--build) BUILD=${2:?}; shift 2 ;;
	--timeout) TMO=${2:?}; shift 2 ;;
	--kernel) KFMT=${2:?}; shift 2 ;;
	--qemu-machine) QMACHINE=${2:?}; shift 2 ;;
	--cmdline-extra) EXTRA=${2?}; shift 2 ;;
	--trace) TRACE=1; shift ;;
	--logdir) LOGDIR=${2:?}; shift 2 ;;
	--no-copy) COPY=0; shift ;;
	-h | --help) usage ;;
	*) echo "concurrent-boots: unknown argument: $1" >&2; usage ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ && $TMO =~ ^[1-9][0-9]*$ ]] ||
	die "-n, -r and --timeout take positive whole numbers"
PAR=${PAR:-$N}
[[ $PAR =~ ^[1-9][0-9]*$ ]] || die "-j takes a positive whole number"
case $VMMS in kiln | qemu) ;; both) VMMS="kiln qemu" ;; *) die "--vmm: kiln, qemu or both" ;; esac
case $KFMT in bzimage | pvh) ;; *) die "--kernel: bzimage or pvh" ;; esac
case $QMACHINE in pc | microvm) ;; *) die "--qemu-machine: pc or microvm" ;; esac

GUEST=${KILN_GUEST_DIR:-$HOME/.cache/kiln/guest}
KILN=$(cd "$REPO" && cd "$(dirname "$BUILD")" && pwd)/$(basename "$BUILD")/kiln
[[ $VMMS != *kiln* || -x $KILN ]] || die "no kiln binary at $KILN (tests/build.sh $BUILD)"
[[ $VMMS != *qemu* ]] || command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
[[ -e /dev/kvm ]] || die "/dev/kvm missing: run me under tests/harness/kvm-run"
KSRC=$GUEST/generic/vmlinuz
[[ $KFMT == pvh ]] && KSRC=$GUEST/generic/vmlinux
ISRC=$GUEST/initramfs-generic.cpio.gz
[[ -s $KSRC && -s $ISRC ]] || die "guest images missing in $GUEST (tests/guest/prepare.sh)"

if [[ -z $LOGDIR ]]; then
	LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/concurrent-boots.XXXXXX")
else
	mkdir -p "$LOGDIR"
fi
# Local copies: under kvm-run the cache is on 9p, and 12 VMMs reading 70 MiB over it at
# once would be part of what is measured (bench/inner.sh does the same).
if ((COPY)); then
	mkdir -p "$LOGDIR/img"
	cp "$KSRC" "$LOGDIR/img/kernel"
	cp "$ISRC" "$LOGDIR/img/initrd"
	KERNEL=$LOGDIR/img/kernel INITRD=$LOGDIR/img/initrd
else
	KERNEL=$KSRC INITRD=$ISRC
fi
CMDLINE="console=ttyS0 panic=-1 earlyprintk=serial kiln.scenario=info${EXTRA:+ $EXTRA}"

note() {
	printf 'concurrent-boots: %s\n' "$*"
	if [[ -n ${KILN_IO_DIR:-} ]]; then
		printf 'concurrent-boots: %s\n' "$*" >"$KILN_IO_DIR/current" 2>/dev/null || true
	fi
}

# --- tracing (L1's tracefs) -------------------------------------------------------------
TRACEFS=/sys/kernel/tracing
TRACE_PID=
trace_start() { # OUTFILE
	((TRACE)) || return 0
	[[ -d $TRACEFS/events/kvm ]] || mount -t tracefs nodev "$TRACEFS" 2>/dev/null || true
	[[ -d $TRACEFS/events/kvm ]] || { echo "concurrent-boots: no kvm events in $TRACEFS: --trace ignored" >&2; TRACE=0; return 0; }
	echo 0 >"$TRACEFS/tracing_on"
	echo >"$TRACEFS/set_event"
	echo 1 >"$TRACEFS/options/record-tgid"
	echo 32768 >"$TRACEFS/buffer_size_kb"
	local ev
	for ev in kvm_exit kvm_inj_exception kvm_cr kvm_msr kvm_cpuid kvm_userspace_exit kvm_set_irq \
		kvm_inj_virq kvm_page_fault; do
		[[ -d $TRACEFS/events/kvm/$ev ]] && echo "kvm:$ev" >>"$TRACEFS/set_event"
	done
	echo >"$TRACEFS/trace"
	cat "$TRACEFS/trace_pipe" >"$1" &
	TRACE_PID=$!
	echo 1 >"$TRACEFS/tracing_on"
}
trace_stop() {
	((TRACE)) || return 0
	echo 0 >"$TRACEFS/tracing_on"
	sleep 1
	if [[ -n $TRACE_PID ]]; then
		kill "$TRACE_PID" 2>/dev/null || true
		wait "$TRACE_PID" 2>/dev/null || true
	fi
	TRACE_PID=
	echo >"$TRACEFS/set_event"
}

# --- one guest ---------------------------------------------------------------------------
# launch VMM DIR: starts one guest in the background (its pid in DIR/pid, status in DIR/rc,
# serial console in DIR/console, VMM messages in DIR/vmm.err, seconds in DIR/secs).
launch() {
	local vmm=$1 d=$2 cmd
	if [[ $vmm == kiln ]]; then
		cmd=("$KILN" run --kernel "$KERNEL" --initrd "$INITRD" --cpus 1 --memory 128M
			--cmdline "$CMDLINE")
	else
		local m=(-M pc)
		[[ $QMACHINE == microvm ]] && m=(-M microvm)
		cmd=(qemu-system-x86_64 -accel kvm "${m[@]}" -cpu host -smp 1 -m 128 -no-reboot -nodefaults
			-no-user-config -serial stdio -display none -kernel "$KERNEL" -initrd "$INITRD"
			-append "$CMDLINE")
	fi
	printf '%q ' "${cmd[@]}" >"$d/cmd"
	(
		start=$(date +%s.%N)
		rc=0
		# The shell execs the VMM, so DIR/pid is the VMM's pid (= the tgid in traces).
		# shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
		timeout -k 5 "$TMO" bash -c 'echo $$ >"$1/pid"; shift; exec "$@"' _ "$d" "${cmd[@]}" \
			</dev/null >"$d/console" 2>"$d/vmm.err" || rc=$?
		echo "$rc" >"$d/rc"
		awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", e - s }' >"$d/secs"
	) &
}

# guest_output DIR: the console with VMM-side noise removed, CR stripped, empty lines dropped.
guest_output() { tr -d '\r' <"$1/console" | grep -v '^[[:space:]]*$' || true; }

# classify VMM DIR: prints the class.
classify() {
	local vmm=$1 d=$2 rc out
	rc=$(<"$d/rc")
	out=$(guest_output "$d")
	if ((rc == 124 || rc == 137)); then
		echo hang
	elif ((rc == 0)) && grep -q 'KILN-RESULT rc=0' <<<"$out"; then
		echo ok
	elif [[ -z $out ]] && { [[ $vmm == qemu && $rc == 0 ]] ||
		{ [[ $vmm == kiln ]] && grep -q 'triple fault' "$d/vmm.err"; }; }; then
		echo early
	else
		echo late
	fi
}

last_line() {
	local l
	l=$(guest_output "$1" | tail -n 1 | cut -c1-110)
	echo "${l:-(no guest output)}"
}

# excerpt VMM DIR CLASS: what a failed guest left behind, for the session log.
excerpt() {
	local vmm=$1 d=$2 cls=$3 tg
	echo "    --- $d: console (last 8 lines)"
	guest_output "$d" | tail -n 8 | cut -c1-160 | sed 's/^/    | /'
	if [[ -s $d/vmm.err ]]; then
		echo "    --- $vmm stderr (first 6 lines)"
		tr -d '\r' <"$d/vmm.err" | head -n 6 | cut -c1-160 | sed 's/^/    ! /'
	fi
	if ((TRACE)) && [[ -s $d/pid && -s $TRACE_FILE ]]; then
		tg=$(<"$d/pid")
		# record-tgid lines look like: "  kiln-vcpu0-1234  (  1230) [001] ....."
		grep -E "\(\s*$tg\)" "$TRACE_FILE" >"$d/trace" || true
		echo "    --- kvm trace of tgid $tg: $(wc -l <"$d/trace") events; last 25:"
		tail -n 25 "$d/trace" | cut -c1-200 | sed 's/^/    ~ /'
	fi
}

declare -A TOT
for v in kiln qemu; do for c in ok early late hang; do TOT[$v.$c]=0; done; done

# round R VMM
round() {
	local r=$1 vmm=$2 i d running cls rdir
	rdir=$LOGDIR/r$r-$vmm
	mkdir -p "$rdir"
	TRACE_FILE=$rdir/trace.all
	trace_start "$TRACE_FILE"
	note "round $r: $vmm, $N guests, at most $PAR at a time"
	local t0=$SECONDS
	for ((i = 1; i <= N; i++)); do
		while running=$(jobs -pr | wc -l) && ((running - (TRACE_PID ? 1 : 0) >= PAR)); do
			sleep 0.5
		done
		d=$rdir/g$i
		mkdir -p "$d"
		launch "$vmm" "$d"
	done
	local pids
	pids=$(jobs -pr | grep -vx "${TRACE_PID:-x}" || true)
	# shellcheck disable=SC2086
	[[ -z $pids ]] || wait $pids 2>/dev/null || true
	local wall=$((SECONDS - t0))
	trace_stop
	declare -A C=([ok]=0 [early]=0 [late]=0 [hang]=0)
	for ((i = 1; i <= N; i++)); do
		d=$rdir/g$i
		cls=$(classify "$vmm" "$d")
		C[$cls]=$((C[$cls] + 1))
		TOT[$vmm.$cls]=$((TOT[$vmm.$cls] + 1))
		if [[ $cls != ok ]]; then
			printf '  %-4s g%-3s %-5s rc=%-3s %6ss  last: %s\n' "$vmm" "$i" "$cls" "$(<"$d/rc")" \
				"$(<"$d/secs")" "$(last_line "$d")"
			excerpt "$vmm" "$d" "$cls"
		fi
	done
	local secs
	secs=$(for ((i = 1; i <= N; i++)); do cat "$rdir/g$i/secs"; done | sort -n | awk '{ a[NR] = $1 } END { printf "min %.0fs median %.0fs max %.0fs", a[1], a[int((NR + 1) / 2)], a[NR] }')
	printf 'round %d %-4s: ok %d early %d late %d hang %d of %d  (wall %ds; per guest %s)\n' \
		"$r" "$vmm" "${C[ok]}" "${C[early]}" "${C[late]}" "${C[hang]}" "$N" "$wall" "$secs"
	((TRACE)) && rm -f "$TRACE_FILE" # the per-guest extracts stay
	return 0
}

note "logs in $LOGDIR (kernel $KFMT, cmdline: $CMDLINE)"
echo "concurrent-boots: L1 $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo), kernel $(uname -r)"
trap 'trace_stop 2>/dev/null || true' EXIT
for ((r = 1; r <= ROUNDS; r++)); do
	order=$VMMS
	if [[ $VMMS == "kiln qemu" ]] && ((r % 2 == 0)); then order="qemu kiln"; fi
	for v in $order; do round "$r" "$v"; done
done

summary=()
fail=0
for v in $VMMS; do
	t=$((N * ROUNDS))
	summary+=("$v ok ${TOT[$v.ok]}/$t early ${TOT[$v.early]} late ${TOT[$v.late]} hang ${TOT[$v.hang]}")
	((TOT[$v.ok] == t)) || fail=1
done
echo "logs: $LOGDIR"
(
	IFS=';'
	echo "concurrent-boots: ${summary[*]} (N=$N, rounds=$ROUNDS, j=$PAR, kernel=$KFMT${EXTRA:+, extra: $EXTRA})"
)
exit "$fail"
