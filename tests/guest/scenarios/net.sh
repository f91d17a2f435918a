# virtio-net checks for t_40: two NICs on two taps (host side 169.254.77.1
# and 169.254.78.1), MACs, pings, 32 MiB each way over TCP.
ip link set lo up
ip link set eth0 up && ip addr add 169.254.77.2/24 dev eth0
ip link set eth1 up && ip addr add 169.254.78.2/24 dev eth1
echo "KILN-NET-MAC eth0 $(cat /sys/class/net/eth0/address)"
echo "KILN-NET-MAC eth1 $(cat /sys/class/net/eth1/address)"
# The host configures its end of the taps after kiln has created them.
for i in $(seq 60); do ping -c 1 -W 1 169.254.77.1 >/dev/null 2>&1 && break; done
ping -c 3 -W 2 169.254.77.1 >/dev/null 2>&1 && echo "KILN-PING0 ok"
for i in $(seq 30); do ping -c 1 -W 1 169.254.78.1 >/dev/null 2>&1 && break; done
ping -c 3 -W 2 169.254.78.1 >/dev/null 2>&1 && echo "KILN-PING1 ok"
# host -> guest: the host connects to port 5002 and sends 32 MiB, then closes.
nc -l -p 5002 >/tmp/in &
lpid=$!
echo "KILN-NET-LISTENING"
# guest -> host: the host reads exactly 32 MiB on port 5001, then closes.
dd if=/dev/urandom of=/tmp/out bs=1M count=32 2>/dev/null
echo "KILN-OUT-SHA256 $(sha256sum /tmp/out | cut -d' ' -f1)"
for i in $(seq 30); do nc 169.254.77.1 5001 </tmp/out && break; sleep 1; done
wait $lpid
echo "KILN-IN-SHA256 $(sha256sum /tmp/in | cut -d' ' -f1) $(wc -c </tmp/in)"
# What the guest's side saw, for a failure report (t_40 prints it first):
# the interface counters and the TCP counters (RetransSegs, InErrs, InCsumErrors).
for n in eth0 eth1; do
	d=/sys/class/net/$n/statistics
	echo "KILN-NET-STATS $n rx=$(cat $d/rx_packets) tx=$(cat $d/tx_packets) rx_dropped=$(cat $d/rx_dropped) rx_errors=$(cat $d/rx_errors) tx_errors=$(cat $d/tx_errors)"
done
echo "KILN-NET-TCP $(grep '^Tcp:' /proc/net/snmp | tr '\n' ' ')"
