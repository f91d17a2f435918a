# File-system benchmark over host shares (inner.sh's fs phase): the same busybox
# commands and fio over kiln's virtio-fs or QEMU's 9p (bench.fs=virtiofs|9p).
# bench.dax=1: kiln's "src" has a DAX window, mounted dax=always.
# Tag "src" (read-only): tree/ (a few thousand headers), tree.tar, big.bin
# (100 MiB); tag "rw": an empty directory. One line per figure:
#   KILN-FS NAME VALUE
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
fs=$(arg bench.fs)
rt=$(arg bench.rt); rt=${rt:-5}
mkdir -p /src /rw
if [ "$fs" = 9p ]; then
	modprobe -q 9pnet_virtio
	modprobe -q 9p
	o=trans=virtio,version=9p2000.L,msize=524288
	mount -t 9p -o "$o,ro" src /src
	mount -t 9p -o "$o" rw /rw
else
	modprobe -q virtiofs
	dax=
	[ "$(arg bench.dax)" = 1 ] && dax=,dax=always
	mount -t virtiofs -o "ro$dax" src /src
	mount -t virtiofs rw /rw
fi
# 1 MiB read-ahead on every share, as kiln exec's init sets it (loader/exec/init.c),
# for both: virtio-fs reads through the page cache and its read-ahead sizes the
# READ requests; 9p (no cache option: no page cache) reads in msize pieces whatever
# this says.
for f in /sys/class/bdi/*/read_ahead_kb; do echo 1024 >"$f"; done 2>/dev/null
# Milliseconds since boot (/proc/uptime: 10 ms steps; every step below takes far longer).
ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
echo KILN-BENCH-START
t=$(ms)
n=$(find /src/tree | wc -l)
echo "KILN-FS find_ms $(($(ms) - t))"
echo "KILN-FS find_entries $n"
t=$(ms)
cat /src/big.bin >/dev/null
echo "KILN-FS cat100m_ms $(($(ms) - t))"
t=$(ms)
tar -xf /src/tree.tar -C /rw
sync
echo "KILN-FS untar_ms $(($(ms) - t))"
t=$(ms)
rm -r /rw/tree
sync
echo "KILN-FS rm_ms $(($(ms) - t))"
# 4 KiB random reads, O_DIRECT: neither guest's page cache answers them.
fio --name=randread --filename=/src/big.bin --readonly --rw=randread --bs=4k --direct=1 \
	--ioengine=psync --runtime="$rt" --time_based --output-format=terse --terse-version=3 \
	>/tmp/fio.out 2>/tmp/fio.err || { echo "KILN-ERROR fio: $(head -c 300 /tmp/fio.err)"; exit 1; }
echo "KILN-FS randread_iops $(awk -F';' '{ print $8 }' /tmp/fio.out)"
echo KILN-BENCH-END
