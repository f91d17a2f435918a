# ACPI checks (t_14..t_16): report CPUs, ACPI, a disk's hash, then ask init to
# power off (`poweroff -f`: ACPI S5 when the kernel has ACPI).
echo "KILN-CPUS $(grep -c ^processor /proc/cpuinfo)"
if [ -d /sys/firmware/acpi/tables ]; then echo "KILN-ACPI on"; else echo "KILN-ACPI off"; fi
if [ -b /dev/vda ]; then echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"; fi
echo poweroff >/run/kiln-end
echo "KILN-POWEROFF"
