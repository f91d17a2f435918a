# Disk checks for tests/integration/t_30_virtio_blk.sh. Expects:
#   vda: a data image (read and hashed), vdb: writable scratch (8 MiB written
#   with O_DIRECT; the next 8 MiB written, then discarded), vdc: read-only (a write must fail), vdd: writable, gets an
#   ext2 filesystem with one file on it.
for d in vda vdb vdc vdd; do
	[ -b /dev/$d ] || { echo "KILN-ERROR no /dev/$d"; exit 1; }
	echo "KILN-DISK $d sectors=$(cat /sys/block/$d/size) ro=$(cat /sys/block/$d/ro) serial=$(cat /sys/block/$d/serial 2>/dev/null)"
	echo "KILN-DISK-QUEUES $d $(ls /sys/block/$d/mq | wc -l)"
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

# Discard (VIRTIO_BLK_T_DISCARD, run on kiln's block worker): fill the second
# half of vdb, discard it, and read zeroes back. busybox has blkdiscard but no
# tool that issues BLKZEROOUT, so write-zeroes is covered by the unit tests only.
if [ "$(cat /sys/block/vdb/queue/discard_max_bytes)" = 0 ]; then
	echo "KILN-VDB-DISCARD unsupported"
elif dd if=/dev/urandom of=/dev/vdb bs=1M seek=8 count=8 oflag=direct 2>/dev/null &&
	blkdiscard -o $((8 << 20)) -l $((8 << 20)) /dev/vdb &&
	[ "$(dd if=/dev/vdb bs=1M skip=8 count=8 iflag=direct 2>/dev/null | sha256sum)" = \
		"$(dd if=/dev/zero bs=1M count=8 2>/dev/null | sha256sum)" ]; then
	echo "KILN-VDB-DISCARD ok"
else
	echo "KILN-VDB-DISCARD failed"
fi

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
