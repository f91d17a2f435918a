# For t_51 (control-socket lifecycle). The VM got its devices with disk.add and
# net.add: vda is a tar archive holding the ACPI button driver (button.ko, not in
# the initramfs), eth0 a NIC on a tap whose host end is 169.254.79.1. Reports
# both, then waits for kiln's vm.shutdown and proves that both of its halves
# reached the guest: the ACPI power button (the fixed event's interrupt count in
# /sys/firmware/acpi/interrupts/ff_pwr_btn goes up by one) and ctrl-alt-del (the
# kernel's SIGINT to cad_pid, here a ping that reports SIGINT by printing its
# statistics and exiting, so that init does not reboot the guest before the
# power button is seen). Ends normally: init then reboots and kiln exits 0.
set -e
echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"
echo "KILN-VDA $(cat /sys/block/vda/size) ro=$(cat /sys/block/vda/ro) serial=$(cat /sys/block/vda/serial)"
echo "KILN-NET-MAC eth0 $(cat /sys/class/net/eth0/address)"
ip link set lo up
ip link set eth0 up
ip addr add 169.254.79.2/24 dev eth0
ok=
for i in $(seq 60); do
	if ping -c 1 -W 1 169.254.79.1 >/dev/null 2>&1; then ok=1; break; fi
done
[ -n "$ok" ] && echo "KILN-PING ok"

# The power button: with the driver bound, Linux enables the fixed event and
# counts each one it handles.
mkdir -p /tmp/mods
tar -xf /dev/vda -C /tmp/mods
insmod /tmp/mods/button.ko
pwr() { set -- $(cat /sys/firmware/acpi/interrupts/ff_pwr_btn); echo "$1"; }
grep -q '^ *[0-9][0-9]* *EN' /sys/firmware/acpi/interrupts/ff_pwr_btn ||
	{ echo "KILN-ERROR power button event not enabled: $(cat /sys/firmware/acpi/interrupts/ff_pwr_btn)"; exit 1; }
# ctrl-alt-del: the keyboard's interrupt count, and a SIGINT catcher as cad_pid.
kbd() { awk '$1 == "1:" { n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print n }' /proc/interrupts; }
ping -q 127.0.0.1 >/tmp/ping.out 2>&1 &
catcher=$!
echo "$catcher" >/proc/sys/kernel/cad_pid
pwr0=$(pwr)
kbd0=$(kbd)
echo "KILN-LIFECYCLE-READY pwr=$pwr0 kbd=$kbd0"

# Bounded by time, not by rounds: under nested TCG a round can take 0.5 s.
now() { cut -d. -f1 /proc/uptime; }
end=$(($(now) + 40))
pwr1=$pwr0
while [ "$(now)" -lt "$end" ]; do
	pwr1=$(pwr)
	[ "$pwr1" != "$pwr0" ] && break
	sleep 0.1
done
echo "KILN-PWRBTN $pwr0 $pwr1"
end=$(($(now) + 10))
while [ "$(now)" -lt "$end" ]; do
	kill -0 "$catcher" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$catcher" 2>/dev/null; then
	echo "KILN-CAD none"
	kill "$catcher"
else
	wait "$catcher" || true
	grep -q 'ping statistics' /tmp/ping.out && echo "KILN-CAD sigint"
fi
echo "KILN-KBD-IRQS $kbd0 $(kbd)"
