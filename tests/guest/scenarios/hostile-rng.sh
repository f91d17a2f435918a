# t_56's second boot: one rng buffer (1 MiB through an indirect table)
# re-offered without end; the host stops kiln with SIGTERM meanwhile.
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/device")" = 0x1044 ] && rng=$(basename "$d")
done
hostile rng "$rng" forever
