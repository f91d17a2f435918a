#!/bin/bash
# timeout: 240
# --config FILE.json (README, docs/api.md "Config files"): a file with machine,
# boot and disks boots a guest (scenario "config"); flags given too override the
# file (--cpus 2 over its 1, --memory 384M over its 256, --acpi on over its
# false); --print-config prints the merged config as JSON, and that JSON fed
# back through --config prints the same bytes; bad files (wrong type, unknown
# field, malformed JSON, a bad array element, trailing text) are refused with
# exit status 2 before any vCPU runs, the message naming the file and the field
# path or the line and column.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"

# clean FILE: FILE without the carriage returns of the guest's CRLF console.
clean() { tr -d '\r' <"$1"; }

head -c $((1 << 20)) /dev/urandom >data.img
data_sha=$(sha256sum data.img | cut -d' ' -f1)

cat >vm.json <<EOF
{"machine": {"vcpus": 1, "memory_mib": 256},
 "boot": {"kernel": "$GUEST/generic/vmlinuz",
          "initrd": "$GUEST/initramfs-generic.cpio.gz",
          "cmdline": "console=ttyS0 quiet panic=-1 kiln.scenario=config"},
 "disks": [{"id": "data", "path": "$TMPDIR/data.img", "readonly": true, "serial": "CFG-DATA"}],
 "acpi": false}
EOF

# 1. --print-config: the file as kiln reads it, then merged with flags.
rc=0
"$KILN" run --config vm.json --print-config >file.json 2>file.err || rc=$?
((rc == 0)) || { cat file.err; fail "--print-config of a good file exited $rc"; }
rc=0
"$KILN" run --config vm.json --cpus 2 --memory 384M --acpi on --on-reboot restart --pvpanic \
	--boot-protocol bzimage --print-config >merged.json 2>merged.err || rc=$?
((rc == 0)) || { cat merged.err; fail "--print-config with overriding flags exited $rc"; }
py=$PY
# The merged config, field by field (also proves it is JSON).
"$py" - file.json merged.json "$GUEST" "$TMPDIR" <<'EOF' || fail "--print-config output is not the expected config"
import json, sys
f, m = (json.load(open(p)) for p in sys.argv[1:3])
guest, tmp = sys.argv[3:5]
want_disks = [{"id": "data", "path": tmp + "/data.img", "readonly": True, "serial": "CFG-DATA",
              "format": "auto", "cache": "none", "io": "auto", "queues": 0}]
boot = {"kernel": guest + "/generic/vmlinuz", "initrd": guest + "/initramfs-generic.cpio.gz",
        "cmdline": "console=ttyS0 quiet panic=-1 kiln.scenario=config", "protocol": "auto"}
want_file = {"machine": {"vcpus": 1, "memory_mib": 256}, "boot": boot, "disks": want_disks,
             "nets": [], "fs": [], "console": None, "rng": False, "pvpanic": False, "serial": "stdio",
             "acpi": False,
             "seccomp": "on", "on_reboot": "exit",
             "jail": {"dir": None, "uid": 4294967295, "gid": 4294967295, "cgroup": None,
                      "cpu_max": None, "memory_max": None}}
want_merged = dict(want_file, machine={"vcpus": 2, "memory_mib": 384}, acpi=True,
                   on_reboot="restart", pvpanic=True, boot=dict(boot, protocol="bzimage"))
ok = True
for name, got, want in (("file", f, want_file), ("merged", m, want_merged)):
    if got != want:
        print(f"{name}: got  {json.dumps(got, sort_keys=True)}\n{name}: want {json.dumps(want, sort_keys=True)}")
        ok = False
sys.exit(0 if ok else 1)
EOF
echo "ok: --print-config shows the file's config and the flags' overrides"

# 2. Round trip: the printed config, read back, prints the very same bytes.
rc=0
"$KILN" run --config merged.json --print-config >again.json 2>again.err || rc=$?
((rc == 0)) || { cat again.err; fail "--config of kiln's own --print-config output exited $rc"; }
cmp -s merged.json again.json || {
	diff -u merged.json again.json || true
	fail "--print-config -> --config -> --print-config changed the config"
}
echo "ok: --print-config output round-trips through --config ($(wc -c <again.json) bytes)"

# 3. Boot from the file with flags on top: 2 vCPUs (file: 1), 384 MiB (file:
# 256), ACPI on (file: off); the file's disk as vda, read-only, with its serial.
# check_boot LOG CPUS MEM_MIB ACPI
check_boot() {
	local log=$1 txt=${1%.log}.txt mem lo hi
	clean "$log" >"$txt"
	grep -qx 'KILN-RESULT rc=0' "$txt" || { show_tail "$log"; fail "$log: the scenario did not finish with rc=0"; }
	grep -qx "KILN-CPUS $2" "$txt" || { grep '^KILN-CPUS' "$txt"; fail "$log: the guest does not see exactly $2 CPUs"; }
	mem=$(sed -n 's/^KILN-MEMTOTAL-KB \([0-9]*\)$/\1/p' "$txt")
	# What the kernel keeps for itself (image, struct pages) is 50..60 MiB at
	# these sizes (256 MiB: 208,864 kB measured), so the ranges do not overlap.
	lo=$((($3 - 64) * 1024)) hi=$((($3 - 16) * 1024))
	[[ -n $mem ]] && ((mem >= lo && mem <= hi)) || fail "$log: MemTotal ${mem:-?} kB is not within $lo..$hi kB ($3 MiB)"
	grep -qx "KILN-ACPI $4" "$txt" || { grep '^KILN-ACPI' "$txt"; fail "$log: ACPI is not $4 in the guest"; }
	grep -qx "KILN-VDA-SHA256 $data_sha" "$txt" || { show_tail "$log"; fail "$log: vda is not the file's disk (sha256 $data_sha)"; }
	grep -qx 'KILN-VDA ro=1 serial=CFG-DATA' "$txt" || { grep '^KILN-VDA' "$txt"; fail "$log: vda is not read-only with serial CFG-DATA"; }
}
rc=0
boot_guest merged.log --config vm.json --cpus 2 --memory 384M --acpi on || rc=$?
((rc == 0)) || { show_tail merged.log; fail "kiln --config vm.json --cpus 2 --memory 384M --acpi on exited $rc"; }
check_boot merged.log 2 384 on
echo "ok: booted from the file with the flags' overrides"

# 4. The same file without flags: what it says, 1 vCPU, 256 MiB, no ACPI.
rc=0
boot_guest plain.log --config vm.json || rc=$?
((rc == 0)) || { show_tail plain.log; fail "kiln --config vm.json exited $rc"; }
check_boot plain.log 1 256 off
echo "ok: booted from the file alone"

# 5. Bad files: exit status 2, one message naming the file and the field (or line
# and column), nothing run. Each with and without --print-config.
# bad_file NAME REGEX CONTENT
bad_file() {
	local name=$1 re=$2 mode rc
	printf '%s' "$3" >"$name.json"
	for mode in run print; do
		rc=0
		if [[ $mode == print ]]; then
			timeout 60 "$KILN" run --config "$name.json" --print-config </dev/null >"$name.$mode.out" 2>&1 || rc=$?
		else
			timeout 60 "$KILN" run -v --config "$name.json" --cpus 2 </dev/null >"$name.$mode.out" 2>&1 || rc=$?
		fi
		((rc == 2)) || { cat "$name.$mode.out"; fail "$name ($mode): status $rc, expected 2"; }
		grep -Eq -- "$re" "$name.$mode.out" || { cat "$name.$mode.out"; fail "$name ($mode): no message matching /$re/"; }
		! grep -q 'first KVM_RUN' "$name.$mode.out" || fail "$name ($mode): a vCPU ran"
		! grep -q '^ *"machine"' "$name.$mode.out" || fail "$name ($mode): a config was printed"
	done
	echo "ok $name: $(head -n 1 "$name.run.out")"
}
k=$GUEST/generic/vmlinuz
bad_file bad-type '^kiln: error: bad-type\.json: machine\.vcpus: expected integer 1\.\.64, got "two"$' \
	"{\"machine\": {\"vcpus\": \"two\"}, \"boot\": {\"kernel\": \"$k\"}}"
bad_file float-int '^kiln: error: float-int\.json: machine\.memory_mib: expected integer 16\.\.1048576, got 512\.0$' \
	"{\"machine\": {\"memory_mib\": 512.0}, \"boot\": {\"kernel\": \"$k\"}}"
bad_file unknown-top '^kiln: error: unknown-top\.json: cpus: unknown field \(known: machine, boot, disks, nets, fs, console, rng, pvpanic, serial, acpi, seccomp, on_reboot, jail\)$' \
	"{\"boot\": {\"kernel\": \"$k\"}, \"cpus\": 2}"
bad_file unknown-nested '^kiln: error: unknown-nested\.json: machine\.cpus: unknown field \(known: vcpus, memory_mib\)$' \
	"{\"machine\": {\"cpus\": 2}, \"boot\": {\"kernel\": \"$k\"}}"
bad_file bad-disk '^kiln: error: bad-disk\.json: disks\[1\]\.readonly: expected boolean, got "yes"$' \
	"{\"boot\": {\"kernel\": \"$k\"}, \"disks\": [{\"path\": \"$TMPDIR/data.img\"}, {\"path\": \"$TMPDIR/data.img\", \"readonly\": \"yes\"}]}"
bad_file missing-path '^kiln: error: missing-path\.json: disks\[0\]\.path: missing \(expected string of 1\.\.[0-9]+ bytes\)$' \
	"{\"boot\": {\"kernel\": \"$k\"}, \"disks\": [{\"readonly\": true}]}"
bad_file malformed '^kiln: error: malformed\.json: line 3, column 3: invalid JSON \(unexpected character\)$' \
	"{\"boot\": {\"kernel\": \"$k\"},
 \"machine\": {\"vcpus\": 2,
  }
}"
# A second value after the config: refused where it starts.
first="{\"boot\": {\"kernel\": \"$k\"}} "
bad_file trailing "^kiln: error: trailing\\.json: line 1, column $((${#first} + 1)): invalid JSON \\(" "$first{}"
bad_file not-object '^kiln: error: not-object\.json: config: expected object, got \[1,2\]$' '[1,2]'
