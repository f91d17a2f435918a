# For t_82 (a TCP connection kept across snapshot and restore): eth0 at
# 169.254.82.2/24; connect to the host's 169.254.82.1:5082 and send
# "line N" for N = 1..kiln.lines=M (default 200), one every 50 ms, then
# close (busybox nc ends at its input's end). The host pauses, snapshots,
# kills and restores the VM in the middle; the connection must go on.
M=$(sed -n 's/.*kiln\.lines=\([0-9]*\).*/\1/p' /proc/cmdline)
M=${M:-200}
ip link set lo up
ip link set eth0 up
ip addr add 169.254.82.2/24 dev eth0
echo KILN-TCP-CONNECTING
i=1
while [ "$i" -le "$M" ]; do
	echo "line $i"
	i=$((i + 1))
	sleep 0.05
done | nc 169.254.82.1 5082 || { echo "KILN-ERROR nc $?"; exit 1; }
echo KILN-TCP-DONE
