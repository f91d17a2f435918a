#!/bin/sh
# Report what the guest sees: CPU count, memory, kernel release.
echo "KILN-CPUS $(grep -c '^processor' /proc/cpuinfo)"
echo "KILN-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "KILN-KERNEL $(uname -r)"
exit 0
