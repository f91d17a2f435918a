# For t_21 (--config FILE.json): what the guest got from the config file and
# the flags on top of it: CPUs, memory, ACPI or not, the disk. Ends with init's
# reboot, which works with and without ACPI.
set -e
echo "KILN-CPUS $(grep -c '^processor' /proc/cpuinfo)"
echo "KILN-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
if [ -d /sys/firmware/acpi/tables ]; then echo "KILN-ACPI on"; else echo "KILN-ACPI off"; fi
echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"
echo "KILN-VDA ro=$(cat /sys/block/vda/ro) serial=$(cat /sys/block/vda/serial)"
