# virtio-fs DAX check for t_36: two shares mounted with dax=always, "ro"
# (read-only on the host, a 4 MiB window: two of Linux's 2 MiB ranges, so a
# 16 MiB file is read through ranges the guest must take back and map
# again) and "rw" (32 MiB). The file is read twice; a page of an existing
# file is overwritten in place (through the window) and a new file written.
modprobe virtiofs
mkdir -p /mnt/rw /mnt/ro
mount -t virtiofs -o dax=always ro /mnt/ro
mount -t virtiofs -o dax=always rw /mnt/rw
echo "KILN-DAX-MOUNTS $(grep -c 'virtiofs.*dax=always' /proc/mounts)"
echo "KILN-DAX-SHA $(sha256sum /mnt/ro/big.bin | cut -d' ' -f1)"
echo "KILN-DAX-SHA2 $(sha256sum /mnt/ro/big.bin | cut -d' ' -f1)"
dd if=/mnt/ro/page of=/mnt/rw/target bs=4096 count=1 conv=notrunc 2>/dev/null
printf 'new through the share\n' >/mnt/rw/new.txt
sync
echo "KILN-DAX-WROTE"
# The host makes shrink.bin (8 MiB) one page long while this guest has it
# open and mapped: read on through the open descriptor, which keeps the old
# size, and the pages past the new end read as zeros (kiln mends them)
# instead of stopping the VM.
exec 3</mnt/rw/shrink.bin
dd bs=4096 count=1 <&3 >/dev/null 2>&1
echo "KILN-DAX-MAPPED"
i=0
while [ ! -e /mnt/rw/truncated ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
echo "KILN-DAX-TAIL $(dd bs=4096 count=2047 <&3 2>/dev/null | sha256sum | cut -d' ' -f1)"
exec 3<&-
if dmesg | grep -q "dax can't be enabled"; then echo "KILN-DAX-REFUSED"; fi
umount /mnt/rw
umount /mnt/ro
echo "KILN-DAX-UNMOUNTED"
