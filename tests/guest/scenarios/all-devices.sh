# Issue 3's check in one boot (t_33): vda hashed, 8 MiB to vdb with O_DIRECT,
# a write to read-only vdc refused, a line to hvc0, 4096 bytes from hwrng.
echo "KILN-VDA-SHA256 $(sha256sum /dev/vda | cut -d' ' -f1)"
dd if=/dev/urandom of=/tmp/data bs=1M count=8 2>/dev/null
dd if=/tmp/data of=/dev/vdb bs=1M oflag=direct 2>/dev/null && echo "KILN-VDB-WRITE ok"
echo "KILN-VDB-SHA256 $(sha256sum /tmp/data | cut -d' ' -f1)"
if dd if=/dev/zero of=/dev/vdc bs=4096 count=1 oflag=direct 2>/dev/null; then
	echo "KILN-VDC-WRITE succeeded"
else
	echo "KILN-VDC-WRITE refused"
fi
echo "text-for-hvc0" >/dev/hvc0 && echo "KILN-HVC-WRITTEN"
echo "KILN-RNG-BYTES $(dd if=/dev/hwrng bs=4096 count=1 2>/dev/null | wc -c)"
