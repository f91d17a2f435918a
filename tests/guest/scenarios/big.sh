# For t_17 (big guests): what the guest sees of many vCPUs and of RAM above
# 4 GiB (the Normal zone), then (kiln.fill_mib=N, a multiple of 16) N MiB of
# random data written to a tmpfs and read back, hashed on both sides: the
# kernel takes such pages from the Normal zone first, so they hold the data.
set -e
echo "KILN-CPUS $(grep -c '^processor' /proc/cpuinfo)"
echo "KILN-CPUS-ONLINE $(cat /sys/devices/system/cpu/online)"
echo "KILN-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
# The firmware memory map as the kernel got it (kiln's e820 table).
for d in /sys/firmware/memmap/*; do
	echo "KILN-MEMMAP $(cat "$d/start") $(cat "$d/end") $(cat "$d/type")"
done
dmesg | sed -n 's/^.*BIOS-e820: /KILN-E820 /p'
# zone_info NAME: "spanned present managed free" of zone NAME (node 0).
zone_info() {
	awk -v z="$1" '
		/^Node / { cur = $4 }
		cur == z && $1 == "spanned" { s = $2 }
		cur == z && $1 == "present" { p = $2 }
		cur == z && $1 == "managed" { m = $2 }
		cur == z && $1 == "nr_free_pages" { f = $2 }
		END { print (s == "" ? "none" : s " " p " " m " " f) }' /proc/zoneinfo
}
echo "KILN-ZONE-NORMAL $(zone_info Normal)"
fill=
for arg in $(cat /proc/cmdline); do
	case $arg in
	kiln.fill_mib=*) fill=${arg#kiln.fill_mib=} ;;
	esac
done
if [ -n "$fill" ]; then
	# In 16 MiB chunks of random data, each hashed before it is stored and
	# after it is read back. No pipe carries the data: under nested KVM on TCG
	# every pipe wakeup is an IPI between vCPUs, and 1 GiB through a pipe takes
	# over ten minutes.
	mkdir -p /fill
	mount -t tmpfs -o size=$((fill + 16))m tmpfs /fill
	n=$((fill / 16))
	i=0
	while [ "$i" -lt "$n" ]; do
		dd if=/dev/urandom of=/tmp/chunk bs=1M count=16 2>/dev/null
		set -- $(md5sum /tmp/chunk)
		echo "$i $1" >>/tmp/written
		dd if=/tmp/chunk of=/fill/data bs=1M seek=$((i * 16)) conv=notrunc 2>/dev/null
		i=$((i + 1))
	done
	rm -f /tmp/chunk
	echo "KILN-FILL-BYTES $(stat -c %s /fill/data)"
	echo "KILN-ZONE-NORMAL-FILLED $(zone_info Normal)"
	i=0
	while [ "$i" -lt "$n" ]; do
		dd if=/fill/data of=/tmp/chunk bs=1M skip=$((i * 16)) count=16 2>/dev/null
		set -- $(md5sum /tmp/chunk)
		echo "$i $1" >>/tmp/read
		i=$((i + 1))
	done
	set -- $(md5sum /tmp/written)
	echo "KILN-FILL-WRITTEN-MD5 $1 $(wc -l </tmp/written)"
	set -- $(md5sum /tmp/read)
	echo "KILN-FILL-READ-MD5 $1 $(wc -l </tmp/read)"
fi
