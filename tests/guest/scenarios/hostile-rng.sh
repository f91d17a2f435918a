# t_56's second boot: one rng buffer (1 MiB through an indirect table)
# re-offered without end; the host stops kiln with SIGTERM meanwhile.
rng=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/device")" = 0x1044 ]; then rng=$(basename "$d"); fi
done
hostile rng "$rng" forever
