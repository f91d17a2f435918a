# virtio-console checks for t_31: write a marker to hvc0, then read one line
# from it (the test sends "ping-from-host") and echo it on the serial console.
[ -c /dev/hvc0 ] || { echo "KILN-ERROR no /dev/hvc0"; exit 1; }
stty -F /dev/hvc0 raw -echo 2>/dev/null
echo "hello-from-hvc0" >/dev/hvc0
echo "KILN-HVC-WRITTEN"
if read -r line </dev/hvc0; then
	echo "KILN-HVC-READ $line"
fi
