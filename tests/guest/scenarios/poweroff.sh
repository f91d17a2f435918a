# ACPI checks (t_14..t_16): report CPUs, ACPI, a disk's hash, then power off
# with `poweroff -f` (ACPI S5 when the kernel has ACPI).
echo "KILN-CPUS $(grep -c ^processor /proc/cpuinfo)"
[ -d /sys/firmware/acpi/tables ] && echo "KILN-ACPI on" || echo "KILN-ACPI off"
[ -b /dev/vda ] && echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"
echo "KILN-POWEROFF"
stty -F /dev/console "$(stty -F /dev/console -g 2>/dev/null)" 2>/dev/null
poweroff -f
