# virtio-console checks for t_31: write a marker to hvc0, then read one line
# from it (the test sends "ping-from-host") and echo it on the serial console.
# hvc0 stays open on fd 3 throughout: the tty layer drops input that arrives
# while no one has the tty open.
[ -c /dev/hvc0 ] || { echo "KILN-ERROR no /dev/hvc0"; exit 1; }
exec 3<>/dev/hvc0
stty -echo <&3 2>/dev/null
echo "hello-from-hvc0" >&3
echo "KILN-HVC-WRITTEN"
if read -r line <&3; then
	echo "KILN-HVC-READ $line"
fi
exec 3<&-
