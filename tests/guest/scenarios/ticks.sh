# For t_50 (control socket): read some of vda (disk metrics), then print a
# tick every 0.2 s until the VM is shut down (ctrl-alt-del → init reboots).
[ -b /dev/vda ] && dd if=/dev/vda of=/dev/null bs=64k count=16 2>/dev/null && echo "KILN-DISK-READ"
i=0
while true; do
	echo "KILN-TICK $i"
	i=$((i + 1))
	sleep 0.2
done
