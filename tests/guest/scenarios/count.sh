# For t_80 (snapshot and restore): count from 1 to kiln.count_to=N (default
# 150), about ten a second, appending each count to a file on the disk vda
# (an ext4 the host made): the line "line NNNNNN" is appended to /count and
# the file fsynced (busybox sync FILE: the journal commit, a virtio-blk write
# and flush, so kiln has it in the file before the count is printed), then
# "KILN-COUNT N" is printed on the console. The host pauses, snapshots and
# kills the VM halfway and restores it in a new kiln, which must go on
# counting where it was. At the end the page cache is dropped and the file
# read back (KILN-COUNT-VERIFY bad=N: how many lines are not where they
# belong, or missing).
N=$(sed -n 's/.*kiln\.count_to=\([0-9]*\).*/\1/p' /proc/cmdline)
N=${N:-150}
[ -b /dev/vda ] || { echo "KILN-ERROR no /dev/vda"; exit 1; }
modprobe -q ext4
mkdir -p /mnt/disk
mount -t ext4 /dev/vda /mnt/disk || { echo "KILN-ERROR mount vda"; exit 1; }
f=/mnt/disk/count
i=1
while [ "$i" -le "$N" ]; do
	printf 'line %06d\n' "$i" >>"$f" && sync "$f" || { echo "KILN-ERROR write $i"; exit 1; }
	echo "KILN-COUNT $i"
	i=$((i + 1))
	sleep 0.1
done
echo 3 >/proc/sys/vm/drop_caches
bad=0
i=1
while read -r line; do
	[ "$line" = "$(printf 'line %06d' "$i")" ] || bad=$((bad + 1))
	i=$((i + 1))
done <"$f"
[ "$i" -eq $((N + 1)) ] || bad=$((bad + 1))
echo "KILN-COUNT-VERIFY bad=$bad"
[ "$bad" -eq 0 ]
