# For t_84 (a virtio-fs share kept across snapshot and restore): mount the
# share "snap", hold its sub/ as the working directory, sub/data open for
# reading (one line read) and sub/log open for appending, and a file the
# host deletes. Each step waits for a file the host makes in the share:
#   go1: the host deleted victim and saw vm.snapshot refused; close it,
#        drop the caches (the kernel FORGETs it), say so;
#   go2: the host snapshotted, killed and restored the VM: go on through
#        what is held.
modprobe virtiofs
mkdir -p /mnt/s
mount -t virtiofs snap /mnt/s
cd /mnt/s/sub
exec 3<data 4>>log 5<../victim
read -r first <&3
echo before >&4
echo "KILN-FS-HELD $first"
wait_for() {
	n=0
	while [ ! -e "/mnt/s/$1" ]; do
		n=$((n + 1))
		[ "$n" -lt 600 ] || { echo "KILN-ERROR no $1 from the host"; exit 1; }
		sleep 0.1
	done
}
wait_for go1
exec 5<&-
echo 2 >/proc/sys/vm/drop_caches
echo KILN-FS-LET-GO
wait_for go2
read -r second <&3
echo after >&4
ls . | tr '\n' ' ' >../listing
echo "KILN-FS-AFTER $second $(cat ../listing)"
exec 3<&- 4>&-
cd /
umount /mnt/s
