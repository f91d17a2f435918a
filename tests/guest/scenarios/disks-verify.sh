# Second boot of t_30: the file written on vdd's ext2 filesystem is still there.
modprobe -q ext4
mkdir -p /mnt
mount -t ext2 -o ro /dev/vda /mnt || { echo "KILN-ERROR cannot mount /dev/vda"; exit 1; }
echo "KILN-FS-SHA256 $(sha256sum /mnt/file | cut -d' ' -f1)"
umount /mnt
