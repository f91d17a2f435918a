# For t_54 (jail) and t_55 (no root): the guest writes a marker to vda and
# reads it back, pings the host's end of its tap (169.254.79.1), uses its
# virtio-fs share if it has one, then ticks
# every 0.2 s until the VM is stopped (the host inspects kiln meanwhile).
ip link set lo up
ip link set eth0 up && ip addr add 169.254.79.2/24 dev eth0
printf 'KILN-JAIL-DISK %s\n' "$(cat /proc/sys/kernel/random/uuid)" >/tmp/marker
dd if=/tmp/marker of=/dev/vda bs=512 count=1 conv=sync 2>/dev/null && sync
echo "KILN-DISK-MARKER $(head -n 1 /tmp/marker | cut -d' ' -f2)"
echo "KILN-DISK-READBACK $(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -n 1 | cut -d' ' -f2)"
for i in $(seq 60); do ping -c 1 -W 1 169.254.79.1 >/dev/null 2>&1 && break; done
if ping -c 3 -W 2 169.254.79.1 >/dev/null 2>&1; then echo "KILN-PING ok"; else echo "KILN-PING failed"; fi
# A virtio-fs share when kiln has one (t_54: tag "share"): a host file read,
# a file written for the host to check.
if grep -qsx 0x001a /sys/bus/virtio/devices/*/device; then
	modprobe virtiofs
	mkdir -p /mnt/share
	mount -t virtiofs share /mnt/share
	echo "KILN-JAIL-FS-READ $(cat /mnt/share/from-host)"
	echo "written in the jail" >/mnt/share/from-guest
	umount /mnt/share
	echo "KILN-JAIL-FS-WRITTEN"
fi
i=0
while true; do
	echo "KILN-TICK $i"
	i=$((i + 1))
	sleep 0.2
done
