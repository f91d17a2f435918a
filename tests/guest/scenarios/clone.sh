# For t_81 (clones of one snapshot): say how much RAM is free as booted and
# wait for the host's first snapshot (below); fill 100 MiB of tmpfs with random
# bytes (KILN-FILL <md5>; KILN-MEMUSED <KiB in use>; KILN-MEMTOTAL <KiB the
# kernel manages>), say KILN-SNAPSHOT-ME,
# then wait until the first sector of vda says "clone N" (the host writes
# each clone's own disk before restoring it; the original's keeps "fill"):
# then KILN-CLONE N <md5 of the fill again> and, when the kernel says it
# reseeded its RNG for a virtual machine fork (the VM generation ID),
# KILN-RESEEDED; bind its virtio-net device again, so that its driver reads
# the MAC kiln now presents, and say KILN-MAC <it> (the original says its
# own before the snapshot); write "done N" to sector 1 of vda (fsync) and
# end with rc 0.
[ -b /dev/vda ] || { echo "KILN-ERROR no /dev/vda"; exit 1; }
# disk_tag: the first 16 bytes of vda's first sector, read past the page
# cache (the host writes it while the guest runs).
disk_tag() {
	echo 3 >/proc/sys/vm/drop_caches
	dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 16 | tr -d '\0'
}
# First, as booted: KILN-MEMFREE-BOOT <KiB free>, KILN-SNAPSHOT-EARLY, and
# wait until the host (after its first snapshot) writes "fill" there.
echo 3 >/proc/sys/vm/drop_caches
echo "KILN-MEMFREE-BOOT $(awk '/^MemFree/ { print $2 }' /proc/meminfo)"
echo KILN-SNAPSHOT-EARLY
until [ "$(disk_tag)" = fill ]; do sleep 0.2; done
dd if=/dev/urandom of=/tmp/fill bs=1M count=100 2>/dev/null || { echo "KILN-ERROR fill"; exit 1; }
echo "KILN-FILL $(md5sum </tmp/fill | cut -c1-32)"
# mac: the MAC of the one virtio-net device, as its driver has it.
mac() { cat /sys/bus/virtio/drivers/virtio_net/virtio*/net/*/address 2>/dev/null | head -n 1; }
echo "KILN-MAC $(mac)"
echo 3 >/proc/sys/vm/drop_caches
echo "KILN-MEMUSED $(awk '/^MemTotal/ { t = $2 } /^MemFree/ { f = $2 } END { print t - f }' /proc/meminfo)"
awk '/^MemTotal/ { print "KILN-MEMTOTAL " $2 }' /proc/meminfo
echo KILN-SNAPSHOT-ME
while :; do
	tag=$(disk_tag)
	case $tag in clone\ *) break ;; esac
	sleep 0.2
done
n=${tag#clone }
echo "KILN-CLONE $n $(md5sum </tmp/fill | cut -c1-32)"
# The new VM generation ID's notification reaches the kernel as an ACPI
# event (a workqueue): give it two seconds.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	dmesg | grep -q 'crng reseeded due to virtual machine fork' && { echo "KILN-RESEEDED"; break; }
	sleep 0.2
done
for d in /sys/bus/virtio/drivers/virtio_net/virtio*; do
	v=${d##*/}
	echo "$v" >/sys/bus/virtio/drivers/virtio_net/unbind
	echo "$v" >/sys/bus/virtio/drivers/virtio_net/bind
done
echo "KILN-MAC $(mac)"
printf 'done %s\n' "$n" | dd of=/dev/vda bs=512 seek=1 conv=sync,notrunc,fsync 2>/dev/null ||
	{ echo "KILN-ERROR write"; exit 1; }
