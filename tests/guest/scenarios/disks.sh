# Disk checks for tests/integration/t_30_virtio_blk.sh. Expects:
#   vda: a data image (read and hashed), vdb: writable scratch (8 MiB written
#   with O_DIRECT), vdc: read-only (a write must fail), vdd: writable, gets an
#   ext2 filesystem with one file on it.
for d in vda vdb vdc vdd; do
	[ -b /dev/$d ] || { echo "KILN-ERROR no /dev/$d"; exit 1; }
	echo "KILN-DISK $d sectors=$(cat /sys/block/$d/size) ro=$(cat /sys/block/$d/ro) serial=$(cat /sys/block/$d/serial 2>/dev/null)"
done
echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"

dd if=/dev/urandom of=/tmp/data bs=1M count=8 2>/dev/null
if dd if=/tmp/data of=/dev/vdb bs=1M oflag=direct 2>/dev/null; then
	echo "KILN-VDB-WRITE ok"
else
	echo "KILN-VDB-WRITE failed"
fi
echo "KILN-VDB-SHA256 $(sha256sum /tmp/data | cut -d' ' -f1)"
# Read it back through the device, bypassing the page cache.
echo "KILN-VDB-READBACK $(dd if=/dev/vdb bs=1M count=8 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"

if dd if=/dev/zero of=/dev/vdc bs=4096 count=1 oflag=direct 2>/dev/null; then
	echo "KILN-VDC-WRITE succeeded"
else
	echo "KILN-VDC-WRITE refused"
fi

modprobe -q ext4
mkdir -p /mnt
if mke2fs -q /dev/vdd && mount -t ext2 /dev/vdd /mnt && cp /tmp/data /mnt/file &&
	umount /mnt; then
	echo "KILN-FS-WRITE ok"
else
	echo "KILN-FS-WRITE failed"
fi
sync
