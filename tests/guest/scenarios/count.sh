# For t_80 (snapshot and restore): count from 1 to kiln.count_to=N (default
# 150), about ten a second. Each count is first written to the disk vda as a
# 512-byte record "line NNNNNN" in slot N (dd with fsync: a virtio-blk write
# and flush, so kiln has it in the file before the count is printed), then
# printed as "KILN-COUNT N" on the console. The host pauses, snapshots and
# kills the VM halfway and restores it in a new kiln, which must go on
# counting where it was. At the end every slot is read back (KILN-COUNT-VERIFY
# bad=N: how many do not hold their record).
N=$(sed -n 's/.*kiln\.count_to=\([0-9]*\).*/\1/p' /proc/cmdline)
N=${N:-150}
[ -b /dev/vda ] || { echo "KILN-ERROR no /dev/vda"; exit 1; }
i=1
while [ "$i" -le "$N" ]; do
	printf 'line %06d\n' "$i" | dd of=/dev/vda bs=512 seek="$i" conv=sync,notrunc,fsync 2>/dev/null ||
		{ echo "KILN-ERROR write $i"; exit 1; }
	echo "KILN-COUNT $i"
	i=$((i + 1))
	sleep 0.1
done
echo 3 >/proc/sys/vm/drop_caches
bad=0
i=1
while [ "$i" -le "$N" ]; do
	got=$(dd if=/dev/vda bs=512 skip="$i" count=1 2>/dev/null | head -c 11)
	[ "$got" = "$(printf 'line %06d' "$i")" ] || bad=$((bad + 1))
	i=$((i + 1))
done
echo "KILN-COUNT-VERIFY bad=$bad"
[ "$bad" -eq 0 ]
