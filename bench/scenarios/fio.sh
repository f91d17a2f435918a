# Disk benchmark: fio on /dev/vda (raw, O_DIRECT, libaio). One line per job:
#   KILN-FIO NAME READ_KB READ_KIBPS READ_IOPS WRITE_KB WRITE_KIBPS WRITE_IOPS
# bench.rt=SECONDS per job. bench.jobs=N (N > 1): the four depth-32 jobs only, each
# as N fio jobs pinned one to a vCPU (so blk-mq spreads them over the disk's queues),
# their figures summed (group_reporting).
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
rt=$(arg bench.rt); rt=${rt:-10}
jobs=$(arg bench.jobs); jobs=${jobs:-1}
[ -b /dev/vda ] || { echo "KILN-ERROR no /dev/vda"; exit 1; }
many=
[ "$jobs" -gt 1 ] && many="--numjobs=$jobs --group_reporting --cpus_allowed=0-$((jobs - 1)) --cpus_allowed_policy=split"
run() { # NAME RW BS DEPTH
	[ -n "$many" ] && [ "$4" -lt 32 ] && return 0
	# shellcheck disable=SC2086 # $many: several options, or none
	fio --name="$1" --filename=/dev/vda --direct=1 --ioengine=libaio --rw="$2" --bs="$3" \
		--iodepth="$4" --runtime="$rt" --time_based --output-format=terse --terse-version=3 $many \
		>/tmp/fio.out 2>/tmp/fio.err || { echo "KILN-ERROR fio $1: $(head -c 300 /tmp/fio.err)"; return 1; }
	awk -F';' '{ print "KILN-FIO", $3, $6, $7, $8, $47, $48, $49 }' /tmp/fio.out
}
echo KILN-BENCH-START
rc=0
run randread-4k-qd1 randread 4k 1 || rc=1
run randread-4k-qd32 randread 4k 32 || rc=1
run randwrite-4k-qd1 randwrite 4k 1 || rc=1
run randwrite-4k-qd32 randwrite 4k 32 || rc=1
run read-1m read 1m 32 || rc=1
run write-1m write 1m 32 || rc=1
echo KILN-BENCH-END
exit $rc
