#!/bin/sh
# Report what the guest sees: CPU count, memory, kernel release, whether it
# found ACPI tables (t_15 boots with --acpi off).
echo "KILN-CPUS $(grep -c '^processor' /proc/cpuinfo)"
echo "KILN-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "KILN-KERNEL $(uname -r)"
echo "KILN-UNAME $(uname -a)"
echo "KILN-CMDLINE $(cat /proc/cmdline)"
if [ -d /sys/firmware/acpi/tables ]; then echo "KILN-ACPI on"; else echo "KILN-ACPI off"; fi
