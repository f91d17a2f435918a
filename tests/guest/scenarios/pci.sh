# List the PCI functions the guest found: "KILN-PCI <slot> <vendor>:<device> <class> <driver>".
for d in /sys/bus/pci/devices/*; do
	[ -e "$d/vendor" ] || continue
	drv=none
	[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	echo "KILN-PCI ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") $(cat "$d/class") $drv"
done
echo "KILN-PCI-COUNT $(ls /sys/bus/pci/devices | wc -l)"
