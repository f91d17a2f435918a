# t_56: the hostile driver (tests/guest/hostile.c) against every device kind,
# pvpanic first, one after the other, while vdb (the control disk) is read
# the whole time and must keep its data; afterwards each attacked device is
# back with its kernel driver and works (the share mounts, reads and takes a
# file), vdb takes a write, and init powers off.
# kiln.hostile_skip=KIND,KIND on the command line leaves those kinds out: t_56
# boots again with the kinds a boot lost to the nested environment's triple
# fault had already finished.
bdf_of() { basename "$(dirname "$(readlink -f "$1")")"; }
# pci_by_id VENDOR DEVICE: the first function with those IDs.
pci_by_id() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}
ctl_sum() { dd if=/dev/vdb bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1; }

# Their drivers bound before the attacks, like the others'.
modprobe -q -a virtiofs pvpanic-pci 2>/dev/null || true
vda=$(bdf_of /sys/block/vda/device)
eth=$(bdf_of /sys/class/net/eth0/device)
con=$(pci_by_id 0x1af4 0x1043)
rng=$(pci_by_id 0x1af4 0x1044)
fs=$(pci_by_id 0x1af4 0x105a)
pvp=$(pci_by_id 0x1b36 0x0011)
echo "KILN-HOSTILE-DEVICES blk=$vda net=$eth console=$con rng=$rng fs=$fs pvpanic=$pvp"
want=$(ctl_sum)
echo "KILN-CTL-BEFORE $want"
# The control disk stays busy through every attack.
(
	n=0 bad=0
	while [ ! -e /tmp/stop ]; do
		[ "$(ctl_sum)" = "$want" ] || bad=$((bad + 1))
		n=$((n + 1))
	done
	echo "KILN-CTL-READS $n mismatches $bad"
) &
reader=$!
skip=,$(sed -n 's/.*kiln\.hostile_skip=\([^ ]*\).*/\1/p' /proc/cmdline),
[ "$skip" = ",," ] || echo "KILN-HOSTILE-SKIP $(echo "$skip" | sed "s/^,//; s/,$//")"
failed=
for spec in "pvpanic $pvp" "blk $vda" "net $eth" "console $con" "rng $rng" "fs $fs"; do
	case $skip in *",${spec% *},"*) continue ;; esac
	# shellcheck disable=SC2086  # two words on purpose
	hostile $spec || failed="$failed ${spec% *}"
done
touch /tmp/stop
wait $reader
echo "KILN-CTL-AFTER $(ctl_sum)"

# Back with their drivers (rebound by hostile; devtmpfs makes the nodes).
for _ in 1 2 3 4 5 6 7 8 9 10; do
	hvc=$(ls /dev/hvc* 2>/dev/null | head -n 1)
	if [ -b /dev/vda ] && [ -n "$hvc" ] && [ -e /sys/class/net/eth0 ]; then break; fi
	sleep 0.5
done
echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"
echo "KILN-RNG-BYTES $(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)"
if [ -c "$hvc" ] && echo "hvc0-after-hostile" >"$hvc"; then echo "KILN-HVC-WRITTEN $hvc"; fi
echo "KILN-NET-DEVS $(ls /sys/class/net | tr '\n' ' ')"
bound=0
for d in /sys/bus/pci/drivers/pvpanic-pci/0000:*; do
	if [ -e "$d" ]; then bound=$((bound + 1)); fi
done
echo "KILN-PVPANIC-DRIVER $bound"
# The share, through the kernel's virtiofs driver again: t_56 checks what
# was read against the host's files and what was written on the host.
mkdir -p /mnt/share
mounted=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	if mount -t virtiofs hostile /mnt/share 2>/dev/null; then
		mounted=1
		break
	fi
	sleep 0.5
done
if [ -n "$mounted" ]; then
	echo "KILN-FS-HELLO $(cat /mnt/share/hello)"
	echo "KILN-FS-BIG-SHA256 $(sha256sum /mnt/share/big.bin | cut -d' ' -f1)"
	dd if=/dev/urandom of=/tmp/fsdata bs=64k count=4 2>/dev/null
	cp /tmp/fsdata /mnt/share/from-guest.bin
	sync
	echo "KILN-FS-WROTE $(sha256sum /tmp/fsdata | cut -d' ' -f1)"
	echo "KILN-FS-LS $(ls -A /mnt/share | tr '\n' ' ')"
	umount /mnt/share
	echo "KILN-FS-UNMOUNTED"
else
	echo "KILN-FS-MOUNT failed"
fi
dd if=/dev/urandom of=/tmp/data bs=1M count=1 2>/dev/null
dd if=/tmp/data of=/dev/vdb bs=1M seek=8 oflag=direct 2>/dev/null
echo "KILN-CTL-WRITE $(sha256sum /tmp/data | cut -d' ' -f1) $(dd if=/dev/vdb bs=1M skip=8 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
echo poweroff >/run/kiln-end
if [ -n "$failed" ]; then
	echo "KILN-HOSTILE-FAILED$failed"
	exit 1
fi
