# t_56's second boot: one rng buffer (1 MiB through an indirect table) and
# one virtio-fs READ of 1016 KiB (from the share's big.bin) re-offered
# without end, at once; the host stops kiln with SIGTERM meanwhile.
rng='' fs=''
for d in /sys/bus/pci/devices/*; do
	case "$(cat "$d/vendor"):$(cat "$d/device")" in
	0x1af4:0x1044) rng=$(basename "$d") ;;
	0x1af4:0x105a) fs=$(basename "$d") ;;
	esac
done
hostile fs "$fs" forever &
hostile rng "$rng" forever
