# Guest panic (t_18): bind pvpanic-pci when kiln gives the device, say whether
# it is bound, then crash the kernel (sysrq c: a NULL dereference, then panic).
modprobe -q pvpanic-pci 2>/dev/null || true
if ls /sys/bus/pci/drivers/pvpanic-pci/ 2>/dev/null | grep -q '^0000:'; then
	echo "KILN-PVPANIC bound"
else
	echo "KILN-PVPANIC absent"
fi
echo KILN-PANIC-NOW
echo c >/proc/sysrq-trigger
