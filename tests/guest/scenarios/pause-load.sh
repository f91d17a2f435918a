# For t_52 (vm.pause is a quiesce): keep every device busy while the host
# pauses and resumes the VM, then prove that nothing was lost, duplicated or
# corrupted. Devices: vda a scratch disk (>= 32 MiB), eth0 on a tap whose
# host end is 169.254.81.1, hvc0 a virtio-console whose socket client
# (tests/integration/pause_peer.py) sends text lines ending with "END N".
#  disk:    a loop writes 64 KiB blocks (a 4 KiB header naming the write,
#           then data) with O_DIRECT and fsync to successive slots of vda,
#           wrapping after 512 slots; each block is read back with O_DIRECT
#           at once and compared; a copy of what vda should hold is kept in
#           /tmp/image and compared with all of vda's written slots at the end.
#           Meanwhile a second loop streams vda through 256 KiB O_DIRECT
#           reads, so that kiln has block requests in flight at any moment.
#  network: nc receives the host's TCP stream on port 5052; its sha256 and
#           byte count are reported when the host closes it.
#  console: everything read from hvc0 (raw, no echo) is kept; its sha256 and
#           byte count are reported once the "END" line is in.
# The load runs until the host's stream ends. Markers:
#   KILN-PAUSE-READY, KILN-NET-IN <sha256> <bytes>, KILN-CON-IN <sha256> <bytes>,
#   KILN-DISK-WRITES <n>, KILN-DISK-IMAGE <slots> <sha256>, KILN-DISK-VERIFY ok|...
NBLK=512
[ -b /dev/vda ] || { echo "KILN-ERROR no /dev/vda"; exit 1; }
[ -c /dev/hvc0 ] || { echo "KILN-ERROR no /dev/hvc0"; exit 1; }
[ "$(cat /sys/block/vda/size)" -ge $((NBLK * 128)) ] ||
	{ echo "KILN-ERROR vda has $(cat /sys/block/vda/size) sectors, need $((NBLK * 128))"; exit 1; }
ip link set lo up
ip link set eth0 up
ip addr add 169.254.81.2/24 dev eth0

# Console input: hvc0 stays open on fd 3 (the tty drops input while nobody
# has it open); raw and without echo, so every byte arrives as sent.
exec 3<>/dev/hvc0
stty raw -echo <&3
cat <&3 >/tmp/con.in &
catpid=$!

# The TCP stream: hashed and counted on the fly (it may be larger than RAM).
mkfifo /tmp/net.fifo
wc -c </tmp/net.fifo >/tmp/net.count &
wcpid=$!
nc -l -p 5052 </dev/null | tee /tmp/net.fifo | sha256sum >/tmp/net.sum &
netpid=$!

# The disk load, in the background until /tmp/stop exists.
dd if=/dev/urandom of=/tmp/src bs=4096 count=64 2>/dev/null
load() {
	i=0
	while [ ! -e /tmp/stop ]; do
		slot=$((i % NBLK))
		{
			printf '%-4095s\n' "KILN-BLOCK write $i slot $slot"
			dd if=/tmp/src bs=4096 skip=$((i % 49)) count=15 2>/dev/null
		} >/tmp/blk
		# A failed write is reported once and the load goes on (slowed
		# down): the pause is still checked with the disk failing, and a
		# disk that fails must not leave the reads alone to hammer it.
		if ! dd if=/tmp/blk of=/dev/vda bs=65536 seek=$slot count=1 oflag=direct conv=notrunc,fsync 2>/tmp/dd.err; then
			[ -e /tmp/load.err ] || echo "KILN-ERROR write $i (slot $slot) failed: $(cat /tmp/dd.err)" | tee /tmp/load.err
			sleep 0.2
			continue
		fi
		want=$(sha256sum </tmp/blk)
		got=$(dd if=/dev/vda bs=65536 skip=$slot count=1 iflag=direct 2>/dev/null | sha256sum)
		[ "$got" = "$want" ] || { echo "KILN-ERROR write $i (slot $slot) reads back differently"; return 1; }
		dd if=/tmp/blk of=/tmp/image bs=65536 seek=$slot count=1 conv=notrunc 2>/dev/null
		i=$((i + 1))
		echo "$i" >/tmp/writes
	done
}
echo 0 >/tmp/writes
load &
loadpid=$!
reads() {
	while [ ! -e /tmp/stop ]; do
		dd if=/dev/vda of=/dev/null bs=256k iflag=direct 2>/dev/null ||
			{ echo "KILN-ERROR reading vda failed"; return 1; }
	done
}
reads &
readpid=$!
echo "KILN-PAUSE-READY"
echo "KILN-UPTIME $(cut -d' ' -f1 /proc/uptime)"

# The host ends its stream after the pause and resume: then stop the load.
wait $netpid
wait $wcpid
echo "KILN-PAUSE-STREAM-END"
echo "KILN-NET-IN $(cut -d' ' -f1 /tmp/net.sum) $(cat /tmp/net.count)"
touch /tmp/stop
wait $loadpid && [ ! -e /tmp/load.err ] || { echo "KILN-ERROR the disk load failed"; exit 1; }
wait $readpid || { echo "KILN-ERROR the disk reads failed"; exit 1; }
echo "KILN-PAUSE-LOAD-STOPPED"

# The console's last line, "END N", comes right after the stream ends.
now() { cut -d. -f1 /proc/uptime; }
end=$(($(now) + 30))
while ! grep -q '^END ' /tmp/con.in && [ "$(now)" -lt "$end" ]; do sleep 0.2; done
kill $catpid
wait $catpid || true
exec 3<&-
echo "KILN-CON-IN $(sha256sum </tmp/con.in | cut -d' ' -f1) $(wc -c </tmp/con.in)"

n=$(cat /tmp/writes)
used=$n
[ "$used" -le $NBLK ] || used=$NBLK
want=$(dd if=/tmp/image bs=65536 count="$used" 2>/dev/null | sha256sum | cut -d' ' -f1)
got=$(dd if=/dev/vda bs=65536 count="$used" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "KILN-DISK-WRITES $n"
echo "KILN-DISK-IMAGE $used $want"
if [ "$got" = "$want" ]; then
	echo "KILN-DISK-VERIFY ok"
else
	dd if=/dev/vda of=/tmp/readback bs=65536 count="$used" iflag=direct 2>/dev/null
	echo "KILN-DISK-VERIFY differs: $(cmp /tmp/image /tmp/readback 2>&1 | head -n 1)"
fi
# The ICMP echo requests the host wrote onto the tap were answered by the
# kernel; the host counts the replies.
echo "KILN-ETH0 rx_packets=$(cat /sys/class/net/eth0/statistics/rx_packets) rx_dropped=$(cat /sys/class/net/eth0/statistics/rx_dropped)"
