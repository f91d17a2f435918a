#!/bin/bash
# timeout: 300
# kiln@.service under a real systemd (issue 16 item 5): Debian's systemd runs as PID 1 of a
# container made here (its own PID, mount and cgroup namespaces, in a cgroup of its own,
# /run and /tmp on tmpfs, a writable copy of /etc), the way systemd-nspawn would run it; the unit is
# docs/service/kiln@.service.in with @BINDIR@ filled in, as `meson install` fills it in.
#  - `systemctl start kiln@t58` returns once kiln said READY=1 (Type=notify), with the guest
#    configured in /etc/kiln/t58.json running: `systemctl is-active` says active and vm.info
#    on /run/kiln/t58.sock says running;
#  - the serial console on /run/kiln/t58.console shows the guest's boot to a client that
#    connects after it (the socket backend's backlog);
#  - the journal has kiln's own lines for the unit;
#  - `systemctl stop kiln@t58` asks the guest to shut down (it reboots on ctrl-alt-del, and
#    kiln ends with 0), well within the unit's 60 s bound, and systemd records a clean stop;
#  - the issue's own check, with `systemd-run` (a transient service, no terminal): kiln
#    reads its config from stdin (--config -, a file given as the service's standard
#    input), with --serial file= and --log-file: the console file fills with the guest's
#    output, the log file with ISO-8601-stamped lines; kiln ctl finds the socket through
#    $KILN_SOCKET; `systemctl stop` ends it cleanly.
# Two boots of the generic guest (scenario tty-echo, kiln.tty=hold: runs until stopped).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$TMPDIR"
SYSTEMD=/lib/systemd/systemd
[[ -x $SYSTEMD ]] || fail "no systemd at $SYSTEMD (tests/deps.sh installs the systemd package)"
((EUID == 0)) || fail "needs root (namespaces, cgroups, mounts)"

# ---- the container's files ---------------------------------------------------
# /etc is the host's, read-only here: systemd gets a copy with the guest's config
# and an empty fstab (no mount units waiting for disks that are not there).
cp -a /etc/. etc/ 2>/dev/null || cp -a /etc etc
mkdir -p etc/kiln units
: >etc/fstab
cat >etc/kiln/t58.json <<JSON
{
  "machine": {"vcpus": 1, "memory_mib": 256},
  "boot": {"kernel": "$GUEST/generic/vmlinuz",
           "initrd": "$GUEST/initramfs-generic.cpio.gz",
           "cmdline": "console=ttyS0 quiet panic=-1 kiln.scenario=tty-echo kiln.tty=hold"}
}
JSON
# The kiln the container runs: a copy in its /etc (the one place of this test it
# sees; the build tree may be under /tmp, which the container has its own of).
# (Under the seccomp sweep $KILN is a wrapper that adds nothing to a --config run.)
mkdir -p etc/kiln/bin
cp "$KILN_BIN" etc/kiln/bin/kiln
BOX_KILN=/etc/kiln/bin/kiln
sed "s|@BINDIR@/kiln|$BOX_KILN|" "$here/../../docs/service/kiln@.service.in" >units/kiln@.service
grep -q "^ExecStart=$BOX_KILN run " units/kiln@.service || fail "kiln@.service.in has no @BINDIR@/kiln ExecStart"
# Not the boot-time clean-up of /tmp (the container has its own /tmp anyway: /tmp here is
# the test session's) nor timers.
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer man-db.timer; do
	ln -s /dev/null "units/$u"
done
# systemd's console: a file (/dev/console here is L1's serial line).
: >console.out
# What the container boots to: basic.target (sysinit, sockets, journald), nothing more.
cat >units/kiln-test.target <<'UNIT'
[Unit]
Description=kiln's systemd test container
Requires=basic.target
After=basic.target
UNIT

# ---- the container -------------------------------------------------------------
if [[ ! -e /sys/fs/cgroup/cgroup.controllers ]]; then
	mount -t cgroup2 none /sys/fs/cgroup || fail "cannot mount cgroup v2"
fi
cg=/sys/fs/cgroup/kiln-t58-$$
mkdir "$cg"
box='' sd='' console=''
cleanup() {
	[[ -n $console ]] && kill "$console" 2>/dev/null
	# Everything in the container's cgroup, systemd and kiln included.
	echo 1 >"$cg/cgroup.kill" 2>/dev/null
	[[ -n $box ]] && timeout 10 tail -s 0.2 --pid="$box" -f /dev/null
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}
trap cleanup EXIT

# The shell joins the cgroup before unshare, so the container's cgroup namespace
# starts there; systemd then owns that subtree as it owns a host's root.
bash -c '
	echo $$ >"$1/cgroup.procs"
	exec unshare --pid --fork --mount --cgroup --kill-child -- bash -c "
		set -e
		mount -t proc proc /proc
		mount -t tmpfs -o mode=0755 tmpfs /run
		umount /sys/fs/cgroup 2>/dev/null || true # the host view, inherited
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
		mount --bind \"\$1/etc\" /etc
		mount --bind \"\$1/console.out\" /dev/console
		mkdir -p /run/systemd/system
		cp -P \"\$1\"/units/* /run/systemd/system/
		mount -t tmpfs -o mode=1777 tmpfs /tmp
		cd /
		exec env -i container=kiln-test $2 --unit=kiln-test.target --show-status=no
	" box "$0"
' "$TMPDIR" "$cg" "$SYSTEMD" </dev/null >systemd.out 2>&1 &
box=$!
disown "$box" # ended by the cleanup's cgroup.kill; no "Killed" line from bash
for _ in $(seq 100); do
	sd=$(pgrep -P "$box" | head -n 1 || true)
	[[ -n $sd && $(cat /proc/"$sd"/comm 2>/dev/null) == systemd ]] && break
	kill -0 "$box" 2>/dev/null || { show_tail systemd.out; fail "the container ended at once"; }
	sleep 0.1
done
[[ $(cat /proc/"$sd"/comm 2>/dev/null) == systemd ]] || { show_tail systemd.out; fail "systemd did not start in the container"; }

# in_box CMD...: CMD inside the container (its namespaces, its root).
in_box() { nsenter -t "$sd" -m -p -r -w -- "$@"; }
on_fail() {
	echo "--- systemctl status kiln@t58 ---"
	in_box systemctl --no-pager status kiln@t58 2>&1 | tail -n 20
	echo "--- journal ---"
	in_box journalctl --no-pager -n 40 2>&1
	show_tail systemd.out
	show_tail console.out
	# kiln-adhoc logs to its own file, not the journal: the reason it ended
	# (the environment's triple fault, which run.sh retries, or kiln's).
	if [[ -n ${ad:-} && -f $ad/kiln.log ]]; then
		echo "--- last 30 lines of kiln-adhoc's log ---"
		tail -n 30 "$ad/kiln.log"
	fi
}

step "systemd $(in_box systemctl --version | head -n 1 | cut -d' ' -f2) is PID 1 in the container (L1 pid $sd)"
state=
for _ in $(seq 300); do
	state=$(in_box systemctl is-system-running 2>/dev/null || true)
	[[ $state == running || $state == degraded ]] && break
	sleep 0.2
done
[[ $state == running || $state == degraded ]] || fail "systemd did not finish starting (state '$state')"
step "system state: $state"
# --man=no: kiln(1) is installed by `meson install`, not here (tests/install.sh checks it).
in_box systemd-analyze verify --man=no /run/systemd/system/kiln@.service >verify.txt 2>&1 ||
	problem "systemd-analyze verify kiln@.service: $(tr '\n' '|' <verify.txt)"

# ---- start -----------------------------------------------------------------------
step "systemctl start kiln@t58"
t_start=$SECONDS
timeout 150 nsenter -t "$sd" -m -p -r -w -- systemctl start kiln@t58 ||
	fail "systemctl start kiln@t58 failed or did not return"
step "started in $((SECONDS - t_start)) s"
active=$(in_box systemctl is-active kiln@t58 || true)
[[ $active == active ]] || fail "systemctl is-active kiln@t58: '$active'"
root=/proc/$sd/root
info=$(KILN_SOCKET=$root/run/kiln/t58.sock "$KILN" ctl vm.info 2>&1) || fail "vm.info on /run/kiln/t58.sock (\$KILN_SOCKET): $info"
grep -q '"state": *"running"' <<<"$info" || fail "vm.info after start: $info"

# A client attaching after the boot gets the boot's output, then what follows.
: >console.txt
"$PY" - "$root/run/kiln/t58.console" console.txt <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
with open(sys.argv[2], "wb", buffering=0) as f:
    while True:
        b = s.recv(65536)
        if not b:
            break
        f.write(b)
PY
console=$!
wait_line console.txt '^KILN-TTY-READY hold' "$console" 60
step "the console socket shows the guest's boot"

# ---- stop ----------------------------------------------------------------------
step "systemctl stop kiln@t58"
t_stop=$SECONDS
timeout 100 nsenter -t "$sd" -m -p -r -w -- systemctl stop kiln@t58 ||
	fail "systemctl stop kiln@t58 failed or did not return"
took=$((SECONDS - t_stop))
step "stopped in $took s"
((took < 60)) || problem "the stop took $took s: kiln's 60 s bound ran out, the guest was not shut down"
active=$(in_box systemctl is-active kiln@t58 || true)
[[ $active == inactive ]] || problem "after stop, is-active says '$active' (expected inactive: a clean stop)"
timeout 10 tail -s 0.2 --pid="$console" -f /dev/null || problem "the console socket stayed open after the stop"
console=''
tr -d '\r' <console.txt | grep -q '^KILN-CTRL-ALT-DEL$' ||
	problem "the guest did not see the shutdown request: $(tail -n 3 console.txt | tr '\r\n' '  ')"

in_box journalctl --no-pager -o cat -u kiln@t58 >journal.txt 2>&1 || true
grep -q 'SIGTERM: asked the guest to shut down; stopping it in 60 s' journal.txt ||
	problem "the journal has no line of kiln's on the shutdown request"
grep -q 'kernel: .*entry' journal.txt || problem "the journal has no line of kiln's from the boot"
# The guest ended itself (its reboot on ctrl-alt-del): kiln did not have to stop it,
# which the unit would also count as success (SuccessExitStatus=143).
grep -Eq 'kiln: info: guest (reset through|pulsed the i8042|powered off)' journal.txt ||
	problem "kiln's log has no guest reset or power-off: the guest did not end itself"
grep -q 'did not shut down' journal.txt && problem "kiln had to stop the guest"
grep -q 'Failed with result' journal.txt && problem "systemd recorded a failed stop"
grep -q 'Deactivated successfully' journal.txt || problem "systemd did not record a clean stop"
step "journal: $(grep -c '^kiln: ' journal.txt) lines of kiln's"
if ((${#problems[@]})); then sed 's/^/  journal: /' journal.txt; fi

# ---- systemd-run: no unit file, no terminal ------------------------------------------
step "systemd-run: --config - --serial file= --log-file"
# Its files in the container's /run (its /tmp is not this test's), seen from here
# through systemd's root.
ad=$root/run/adhoc
mkdir "$ad"
sed 's/"vcpus": 1/"vcpus": 2/' etc/kiln/t58.json >"$ad/vm.json"
timeout 150 nsenter -t "$sd" -m -p -r -w -- systemd-run --unit=kiln-adhoc --quiet \
	-p Type=notify -p NotifyAccess=all -p StandardInput=file:/run/adhoc/vm.json \
	"$BOX_KILN" run --config - --api-socket /run/adhoc/api.sock \
	--serial file=/run/adhoc/console.log --log-file /run/adhoc/kiln.log --log-level info ||
	fail "systemd-run kiln-adhoc failed or did not return"
[[ $(in_box systemctl is-active kiln-adhoc || true) == active ]] || fail "kiln-adhoc is not active"
wait_line "$ad/console.log" '^KILN-TTY-READY hold' "$sd" 90
cpus=$(KILN_SOCKET=$ad/api.sock "$KILN" ctl vm.info 2>&1 | grep -o '"vcpus": *[0-9]*' | head -n 1 || true)
[[ $cpus == *2 ]] || problem "the config read from stdin did not apply (vm.info: '$cpus', expected 2 vCPUs)"
timeout 100 nsenter -t "$sd" -m -p -r -w -- systemctl stop kiln-adhoc || fail "systemctl stop kiln-adhoc failed"
tr -d '\r' <"$ad/console.log" | grep -q '^KILN-CTRL-ALT-DEL$' || problem "kiln-adhoc: the guest did not see the shutdown request"
bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z kiln: (error|warning|info|debug): ' "$ad/kiln.log" || true)
[[ -s "$ad/kiln.log" ]] && ((bad == 0)) || problem "kiln-adhoc: the log file is empty or has $bad lines without the timestamp: $(head -n 3 "$ad/kiln.log" | tr '\n' '|')"
grep -q 'SIGTERM: asked the guest to shut down' "$ad/kiln.log" || problem "kiln-adhoc: the log file has no line on the shutdown request"
grep -Eq 'kiln: info: guest (reset through|pulsed the i8042|powered off)' "$ad/kiln.log" ||
	problem "kiln-adhoc: the guest did not end itself (no reset or power-off in kiln's log)"
in_box journalctl --no-pager -o cat -u kiln-adhoc >adhoc-journal.txt 2>&1 || true
grep -q 'Deactivated successfully' adhoc-journal.txt || problem "kiln-adhoc: systemd did not record a clean stop: $(tail -n 3 adhoc-journal.txt | tr '\n' '|')"
step "kiln-adhoc: $(wc -l <"$ad/console.log") console lines, $(wc -l <"$ad/kiln.log") log lines"
no_problems
