# Disk benchmark: fio on /dev/vda (raw, O_DIRECT, libaio). One line per job:
#   KILN-FIO NAME READ_KB READ_KIBPS READ_IOPS WRITE_KB WRITE_KIBPS WRITE_IOPS
# bench.rt=SECONDS per job.
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
rt=$(arg bench.rt); rt=${rt:-10}
[ -b /dev/vda ] || { echo "KILN-ERROR no /dev/vda"; exit 1; }
run() { # NAME RW BS DEPTH
	fio --name="$1" --filename=/dev/vda --direct=1 --ioengine=libaio --rw="$2" --bs="$3" \
		--iodepth="$4" --runtime="$rt" --time_based --output-format=terse --terse-version=3 \
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
